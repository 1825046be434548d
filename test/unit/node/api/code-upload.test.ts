// Chunked code upload (PUT /v1/code/:cid) against a real ApiServer and a 1-node subnet: a multi-chunk
// upload stores the code under its CID, a tampered one (bytes that hash elsewhere) is refused and
// stores nothing, bad chunks get clear 4xx answers, and the staging area stays bounded.

import test from 'ava'
import { randomBytes } from 'node:crypto'
import { request } from 'node:http'
import { Writable } from 'node:stream'
import { cidOf, rawCidOf } from '../../../../protocol/codec.ts'
import { apiCodeChunkBytesMax, apiCodeStagedBytesMax, apiCodeUploadIdleMs, apiCodeUploadsMax } from '../../../../protocol/limits.ts'
import { CodeUploads } from '../../../../node/api/code-uploads.ts'
import { ApiClient } from '../../../../node/cli/client.ts'
import { uploadReporter } from '../../../../node/cli/upload-progress.ts'
import { ManualClock } from '../../../../node/core/clock.ts'
import { oneReplicaApi } from '../subnet/_harness.ts'

async function setup (t: { teardown: (fn: () => Promise<void>) => void }) {
  const clock = new ManualClock(Date.now())
  const { subnet, service, url } = await oneReplicaApi(t, clock)
  const put = async (cid: string, query: string, body: Uint8Array) => {
    const res = await fetch(`${url}/v1/code/${cid}?subnet=${subnet.id}&${query}`, { method: 'PUT', body })
    return { status: res.status, json: await res.json() as Record<string, unknown> }
  }
  return { clock, subnet, service, put, url }
}

test('ApiClient.uploadCode sends a 2.5 MiB component in 3 chunks, reports progress, and the node stores it under its CID', async t => {
  const { subnet, service, url } = await setup(t)
  const code = randomBytes(2.5 * apiCodeChunkBytesMax)
  const seen: Array<[number, number, number, boolean]> = []
  const cid = await new ApiClient(url).uploadCode(subnet.id, code, { onProgress: (sent, total, step) => { seen.push([sent, total, step.chunks, step.held]) } })
  t.is(cid.toString(), rawCidOf(code).toString())
  t.deepEqual(seen, [[apiCodeChunkBytesMax, code.length, 1, false], [2 * apiCodeChunkBytesMax, code.length, 2, false], [code.length, code.length, 3, false]])
  // (Buffer.equals: ava's deepEqual takes seconds over megabytes.)
  t.true(code.equals(await service.getCode(cid.toString()) ?? new Uint8Array(0)))
})

test('code the node already holds is not sent again, and two uploads of the same code at once do not restart each other', async t => {
  const { subnet, service, put, url } = await setup(t)
  const code = randomBytes(2 * apiCodeChunkBytesMax + 10)
  const cid = rawCidOf(code).toString()
  const total = `total=${code.length}`
  // Interleaved chunks of two uploads of the same CID, told apart by their upload ids.
  for (const offset of [0, apiCodeChunkBytesMax]) {
    for (const upload of ['a', 'b']) {
      const r = await put(cid, `offset=${offset}&${total}&upload=${upload}`, code.subarray(offset, offset + apiCodeChunkBytesMax))
      t.is(r.status, 202, JSON.stringify(r.json))
    }
  }
  const tail = code.subarray(2 * apiCodeChunkBytesMax)
  t.is((await put(cid, `offset=${2 * apiCodeChunkBytesMax}&${total}&upload=a`, tail)).json.complete, true)
  t.is((await put(cid, `offset=${2 * apiCodeChunkBytesMax}&${total}&upload=b`, tail)).json.complete, true)
  t.true(code.equals(await service.getCode(cid) ?? new Uint8Array(0)))
  // Held now: the client's first chunk is answered as done, and it sends no more.
  const seen: Array<[number, number, boolean]> = []
  t.is((await new ApiClient(url).uploadCode(subnet.id, code, { onProgress: (sent, _total, step) => { seen.push([sent, step.chunks, step.held]) } })).toString(), cid)
  t.deepEqual(seen, [[code.length, 1, true]])
  const badId = await put(cid, `offset=0&${total}&upload=${'x'.repeat(65)}`, tail)
  t.is(badId.status, 400)
  t.regex(badId.json.error as string, /^upload must be 0\.\.64 characters/)
})

test('a tampered upload (bytes that do not hash to the CID in the path) is refused with both digests and stores nothing', async t => {
  const { service, put } = await setup(t)
  const claimed = randomBytes(1500)
  const sent = Buffer.from(claimed)
  sent[700] = sent[700]! ^ 0xff
  const cid = rawCidOf(claimed).toString()
  const first = await put(cid, `offset=0&total=${sent.length}`, sent.subarray(0, 1000))
  t.is(first.status, 202)
  t.is(first.json.received, 1000)
  const last = await put(cid, `offset=1000&total=${sent.length}`, sent.subarray(1000))
  t.is(last.status, 422)
  t.is(last.json.reason, 'cid-mismatch')
  const claimedHex = Buffer.from(rawCidOf(claimed).multihash.digest).toString('hex')
  const sentHex = Buffer.from(rawCidOf(sent).multihash.digest).toString('hex')
  t.is(last.json.error, `code does not match its CID: sha256 ${sentHex} ≠ ${claimedHex} (${cid})`)
  t.is(await service.getCode(cid), undefined)
  t.is(await service.getCode(rawCidOf(sent).toString()), undefined)
  // The staging was discarded: the upload cannot be continued, only restarted.
  const after = await put(cid, `offset=1000&total=${sent.length}`, sent.subarray(1000))
  t.is(after.status, 400)
  t.is(after.json.reason, 'no-upload')
  // A single-chunk tampered upload is refused the same way.
  t.is((await put(cid, `offset=0&total=${sent.length}`, sent)).status, 422)
  t.is(await service.getCode(cid), undefined)
})

test('bad chunks get clear 4xx answers naming the value, and the node keeps serving uploads', async t => {
  const { subnet, service, put, url } = await setup(t)
  const code = randomBytes(3000)
  const cid = rawCidOf(code).toString()
  t.is((await put(cid, 'offset=0&total=3000', code.subarray(0, 1000))).status, 202)
  const gap = await put(cid, 'offset=2000&total=3000', code.subarray(2000))
  t.is(gap.status, 400)
  t.is(gap.json.error, 'chunk out of order: offset 2000, expected 1000 (1000 of 3000 bytes received)')
  const overlap = await put(cid, 'offset=500&total=3000', code.subarray(500, 1500))
  t.is(overlap.status, 400)
  t.is(overlap.json.reason, 'out-of-order')
  const past = await put(cid, 'offset=1000&total=3000', randomBytes(2001))
  t.is(past.status, 400)
  t.is(past.json.error, 'chunk runs past the total: offset 1000 + 2001 bytes > total 3000')
  const retotal = await put(cid, 'offset=1000&total=4000', code.subarray(1000, 2000))
  t.regex(retotal.json.error as string, /^total changed mid-upload: 4000 ≠ 3000 bytes$/)
  // A chunk declared past the chunk bound is refused before any byte of it is read.
  const oversized = await new Promise<{ status: number, body: string }>((resolve, reject) => {
    const req = request(`${url}/v1/code/${cid}?subnet=${subnet.id}&offset=1000&total=3000`, { method: 'PUT', headers: { 'content-length': String(apiCodeChunkBytesMax + 1) } }, res => {
      let body = ''
      res.on('data', (c: Buffer) => { body += c.toString() })
      // The server cuts the connection after answering: take the answer at 'end' or at the cut.
      const done = (): void => { resolve({ status: res.statusCode ?? 0, body }) }
      res.on('end', done).on('close', done).on('error', done)
    })
    req.on('error', reject)
    req.flushHeaders()
  })
  t.is(oversized.status, 413)
  t.regex(oversized.body, new RegExp(`> ${apiCodeChunkBytesMax} bytes`))
  t.is((await put(cid, 'offset=1000&total=3000', new Uint8Array(0))).status, 400)
  t.regex((await put(cid, 'offset=x&total=3000', code)).json.error as string, /^offset must be an integer/)
  t.regex((await put(cid, 'offset=0', code)).json.error as string, /^total must be 1\.\./)
  t.regex((await put('bafynot', 'offset=0&total=3000', code)).json.error as string, /^not a CID/)
  const cborCid = await put(cidOf({ a: 1 }).toString(), 'offset=0&total=3000', code)
  t.is(cborCid.status, 400)
  t.regex(cborCid.json.error as string, /raw bytes \(codec 0x55\).*codec 0x71/)
  const noSubnet = await fetch(`${url}/v1/code/${cid}?offset=0&total=3000`, { method: 'PUT', body: code })
  t.is(noSubnet.status, 400)
  t.is(await service.getCode(cid), undefined)
  // The upload in progress survived every refused chunk and completes.
  t.is((await put(cid, 'offset=1000&total=3000', code.subarray(1000, 2000))).status, 202)
  const done = await put(cid, 'offset=2000&total=3000', code.subarray(2000))
  t.is(done.status, 200)
  t.deepEqual(done.json, { ok: true, complete: true, cid, bytes: 3000, subnet: subnet.id })
  t.deepEqual(await service.getCode(cid), new Uint8Array(code))
  // POST /v1/code still takes a small component whole.
  const small = randomBytes(100)
  const posted = await fetch(`${url}/v1/code?subnet=${subnet.id}`, { method: 'POST', body: small })
  t.is(((await posted.json()) as { cid: string }).cid, rawCidOf(small).toString())
})

test('CodeUploads bounds the uploads and bytes it stages, and an idle upload expires and frees its slot', t => {
  const clock = new ManualClock()
  const uploads = new CodeUploads(clock)
  const cid = rawCidOf(new Uint8Array([1])).toString()
  for (let i = 0; i < apiCodeUploadsMax; i++) t.is(uploads.put(`k${i}`, cid, 0, 10, new Uint8Array(1)).kind, 'partial')
  const full = uploads.put('extra', cid, 0, 10, new Uint8Array(1))
  t.true(full.kind === 'refused' && full.refusal.status === 503 && full.refusal.error.includes(`>= ${apiCodeUploadsMax}`))
  t.deepEqual(uploads.stats(), { uploads: apiCodeUploadsMax, reservedBytes: 10 * apiCodeUploadsMax })
  clock.advance(apiCodeUploadIdleMs)
  t.is(uploads.put('extra', cid, 0, 10, new Uint8Array(1)).kind, 'partial')
  t.deepEqual(uploads.stats(), { uploads: 1, reservedBytes: 10 })
  // Reservations count declared totals, so staging never grows past its bound however chunks arrive.
  const big = apiCodeStagedBytesMax / 2
  t.is(uploads.put('a', cid, 0, big, new Uint8Array(1)).kind, 'partial')
  const over = uploads.put('b', cid, 0, big, new Uint8Array(1))
  t.true(over.kind === 'refused' && over.refusal.reason === 'full' && over.refusal.error.includes(`> ${apiCodeStagedBytesMax} bytes reserved`))
  // Restarting at offset 0 replaces the old staging rather than reserving twice.
  t.is(uploads.put('a', cid, 0, big, new Uint8Array(1)).kind, 'partial')
  t.deepEqual(uploads.stats(), { uploads: 2, reservedBytes: 10 + big })
})

test('uploadReporter draws one in-place line on a TTY, nothing on a pipe or under --json, and sums up the upload', t => {
  const MiB = 1024 * 1024
  const written: string[] = []
  const tty = Object.assign(new Writable({ write (chunk, _enc, done) { written.push(String(chunk)); done() } }), { isTTY: true }) as unknown as NodeJS.WriteStream
  const onTty = uploadReporter(tty)
  onTty.onProgress(3.1 * MiB, 12 * MiB, { chunks: 4, held: false })
  onTty.onProgress(12 * MiB + 1, 12 * MiB + 1, { chunks: 13, held: false })
  t.deepEqual(written, ['\r\x1b[2Kuploading 3.1/12.0 MiB (25%)', '\r\x1b[2Kuploading 12.0/12.0 MiB (100%)\n'])
  t.is(onTty.summary(12 * MiB + 1, 'bafkreiX'), `uploaded 12.0 MiB (${12 * MiB + 1} bytes) in 13 chunks as bafkreiX`)
  const piped: string[] = []
  const pipe = Object.assign(new Writable({ write (c, _e, done) { piped.push(String(c)); done() } }), { isTTY: false }) as unknown as NodeJS.WriteStream
  const onPipe = uploadReporter(pipe)
  onPipe.onProgress(900, 900, { chunks: 1, held: false })
  t.deepEqual(piped, [])
  t.is(onPipe.summary(900, 'bafkreiY'), 'uploaded 900 bytes in 1 chunk as bafkreiY')
  const json = uploadReporter(undefined)
  json.onProgress(2 * MiB, 2 * MiB, { chunks: 1, held: true })
  t.is(json.summary(2 * MiB, 'bafkreiZ'), `the node already holds bafkreiZ (2.0 MiB (${2 * MiB} bytes)): nothing uploaded`)
})

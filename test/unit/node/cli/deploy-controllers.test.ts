// `pylon deploy --controller`: each value must be a principal (a peer id), duplicates collapse, and
// no more than an install envelope carries. Checked before anything is uploaded or signed.

import test from 'ava'
import { randomBytes } from 'node:crypto'
import { peerIdOfPublicKey } from '../../../../protocol/ids.ts'
import { ingressControllersMax } from '../../../../protocol/limits.ts'
import { signerFromSeed } from '../../../../protocol/signature.ts'
import { parseControllers } from '../../../../node/cli/commands/deploy.ts'
import { CliError } from '../../../../node/cli/output.ts'

const principal = (): string => signerFromSeed(randomBytes(32), peerIdOfPublicKey).id

test('--controller keeps valid principals in order and drops repeats', t => {
  const [a, b] = [principal(), principal()]
  t.deepEqual(parseControllers([a, b, a]), [a, b])
  t.deepEqual(parseControllers([]), [])
})

test('--controller refuses a value that is not a peer id, naming it', t => {
  const error = t.throws(() => parseControllers([principal(), 'alice']), { instanceOf: CliError })
  t.is(error?.code, 'usage')
  t.regex(error?.message ?? '', /^--controller "alice": bad principal: .* \(a principal is a peer id, as `pylon identity show` prints it\)$/)
  // A node id's shape with a corrupted character is not a principal either.
  const broken = principal().slice(0, -1) + '0'
  t.throws(() => parseControllers([broken]), { instanceOf: CliError, message: /^--controller ".*": bad principal/ })
})

test('--controller refuses more principals than an install envelope carries', t => {
  const many = Array.from({ length: ingressControllersMax + 1 }, principal)
  t.throws(() => parseControllers(many), { instanceOf: CliError, message: `too many --controller: ${ingressControllersMax + 1} > ${ingressControllersMax}` })
  t.is(parseControllers(many.slice(0, ingressControllersMax)).length, ingressControllersMax)
})

// Gives package-lock.json an entry for every platform-specific optional dependency it lacks.
// Why: the npm registry reachable here does not carry every foreign-platform binary (darwin,
// win32, musl…) of packages such as @napi-rs/lzma, so `npm install` leaves them out of the lock and
// `npm ci` then refuses the lock as out of sync. An entry with its os/cpu lets `npm ci` skip the
// package on this platform without fetching it, exactly as a lock made elsewhere would. Idempotent.
import { readFileSync, writeFileSync } from 'node:fs'

const path = new URL('../package-lock.json', import.meta.url)
const lock = JSON.parse(readFileSync(path, 'utf8'))
const oses = ['android', 'darwin', 'freebsd', 'linux', 'openbsd', 'openharmony', 'win32', 'sunos', 'aix']
const cpus = ['arm64', 'x64', 'arm', 'ia32', 'ppc64', 'riscv64', 's390x', 'wasm32', 'loong64', 'mips64el']

function platformOf (name) {
  const parts = name.split('/').pop().split('-')
  const os = parts.find(p => oses.includes(p))
  const cpu = parts.find(p => cpus.includes(p))
  if (cpu === undefined) return undefined
  const platform = { cpu: [cpu] }
  if (os !== undefined) platform.os = [os]
  if (parts.includes('musl')) platform.libc = ['musl']
  else if (parts.includes('gnu') || parts.includes('gnueabihf')) platform.libc = ['glibc']
  return platform
}

let added = 0
for (const [where, entry] of Object.entries({ ...lock.packages })) {
  for (const [name, spec] of Object.entries(entry.optionalDependencies ?? {})) {
    // Node's resolution: the nearest node_modules up from the dependent.
    let dir = where
    let found = false
    for (;;) {
      if (lock.packages[`${dir === '' ? '' : dir + '/'}node_modules/${name}`] !== undefined) { found = true; break }
      if (dir === '') break
      const cut = dir.lastIndexOf('/node_modules/')
      dir = cut === -1 ? '' : dir.slice(0, cut)
    }
    const platform = platformOf(name)
    if (found || platform === undefined || !/^\d+\.\d+\.\d+/.test(spec)) continue
    const at = `${where === '' ? '' : where + '/'}node_modules/${name}`
    lock.packages[at] = { version: spec, ...platform, optional: true }
    added++
  }
}
if (added > 0) writeFileSync(path, JSON.stringify(lock, null, 2) + '\n')
console.log(`complete-lock: ${added} foreign-platform optional entries added`)

// Admission of a component by its interface: its WIT world's imports and exports against the
// Pylon contract, and the functions jco's glue takes from each import. A pure function of the
// bytes (run inside the transpile worker and by `pylon build`); it never runs actor code.

import { componentWit } from '@bytecodealliance/jco'
import { err, ok, type Result } from '../../protocol/result.ts'

/** The interfaces an actor may import, and the functions of each (from contracts/wit/actor.wit). */
export const allowedImports: Readonly<Record<string, readonly string[]>> = {
  'pylon:actor/storage@0.1.0': ['get', 'set', 'delete', 'range'],
  'pylon:actor/context@0.1.0': ['self-id', 'caller', 'now', 'random', 'log'],
  'pylon:actor/outbox@0.1.0': ['send', 'schedule']
}

/**
 * The component's imports, from its WIT world, against the allowed list, and its exports against
 * the contract's. Refuses with every offending import named, e.g. `imports outside the Pylon
 * world (2): wasi:clocks/wall-clock@0.2.3, …`, or each export that differs.
 */
export async function checkWorld (code: Uint8Array): Promise<Result<string[]>> {
  let wit: string
  try {
    wit = await componentWit(code)
  } catch (error) {
    return err(`not a valid component: ${(error as Error).message.split('\n')[0]}`)
  }
  const world = /\bworld\s+[\w-]+\s*\{([\s\S]*?)\n\}/.exec(wit)
  if (world === null) return err('component has no world')
  const imports = [...world[1]!.matchAll(/^\s*import\s+([^;{]+?)\s*[;{]/gm)].map(m => m[1]!.replace(/\s+/g, ' '))
  const offending = imports.filter(name => !(name in allowedImports))
  if (offending.length > 0) return err(`imports outside the Pylon world (${offending.length}): ${offending.join(', ')}; allowed: ${Object.keys(allowedImports).join(', ')}`)
  const exports = new Map([...world[1]!.matchAll(/^\s*export\s+([\w-]+):\s*(func[^;]*);/gm)].map(m => [m[1]!, withoutParamNames(m[2]!)]))
  const wrong = Object.entries(requiredExports).filter(([name, signature]) => exports.get(name) !== signature)
  if (wrong.length > 0) {
    return err(`exports do not match the Pylon world: ${wrong.map(([name, signature]) => `${name} must be \`${signature}\`, found ${exports.has(name) ? `\`${exports.get(name)}\`` : 'none'}`).join('; ')}`)
  }
  return ok(imports)
}

/** The exports every actor has, as types only (parameter names are the author's business). */
const requiredExports: Readonly<Record<string, string>> = {
  init: 'func(list<u8>) -> result<_, string>',
  update: 'func(string, list<u8>) -> result<list<u8>, string>',
  query: 'func(string, list<u8>) -> result<list<u8>, string>'
}

function withoutParamNames (signature: string): string {
  return signature.replace(/\s+/g, ' ').replace(/([(,]\s*)[\w-]+:\s*/g, '$1').replace(/,\s*/g, ', ').trim()
}

/** The functions jco's glue takes from each interface must be ones we provide (same names). */
export function checkGlueImports (glue: string): Result<void> {
  const offending: string[] = []
  for (const match of glue.matchAll(/const \{([^}]*)\} = imports\['([^']+)'\];/g)) {
    const iface = match[2]!
    const allowed = Object.entries(allowedImports).find(([name]) => name.replace(/@[^@]*$/, '') === iface)
    for (const part of match[1]!.split(',')) {
      const name = part.split(':')[0]!.trim()
      if (name === '') continue
      const kebab = name.replace(/[A-Z]/g, c => `-${c.toLowerCase()}`)
      if (allowed === undefined || !allowed[1].includes(kebab)) offending.push(`${iface}#${kebab}`)
    }
  }
  return offending.length === 0 ? ok(undefined) : err(`imports outside the Pylon world (${offending.length}): ${offending.join(', ')}`)
}

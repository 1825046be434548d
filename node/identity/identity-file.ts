// The client identity: an Ed25519 key in a PKCS#8 PEM file (mode 0600) whose peer id is the user's
// Principal. Owns finding, creating and loading that file; never overwrites a key unless told to,
// and never reads a key that other users could read.

import { constants, type FileHandle } from 'node:fs/promises'
import { chmod, mkdir, open, rename, rm, stat } from 'node:fs/promises'
import { createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto'
import { homedir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { peerIdOfPublicKey } from '../../protocol/ids.ts'
import { identityFileBytesMax } from '../../protocol/limits.ts'
import { signerFromSeed, type Signer } from '../../protocol/signature.ts'
import { PylonError } from '../core/errors.ts'

/** Environment variable that names the identity file when no --identity flag is given. */
export const identityEnvVar = 'PYLON_IDENTITY'

export interface IdentityLocation {
  path: string
  /** Where the path came from, so messages can say how to change it. */
  source: 'flag' | 'env' | 'default'
}

export interface IdentityPathOptions {
  /** The --identity FILE flag. */
  flag?: string
  /** @default process.env */
  env?: Record<string, string | undefined>
  /** @default os.homedir() */
  home?: string
}

/** The identity file: --identity, else $PYLON_IDENTITY, else ~/.pylon/identity. */
export function identityPath (options: IdentityPathOptions = {}): IdentityLocation {
  if (options.flag !== undefined && options.flag !== '') return { path: resolve(options.flag), source: 'flag' }
  const fromEnv = (options.env ?? process.env)[identityEnvVar]
  if (fromEnv !== undefined && fromEnv !== '') return { path: resolve(fromEnv), source: 'env' }
  return { path: join(options.home ?? homedir(), '.pylon', 'identity'), source: 'default' }
}

export interface Identity {
  signer: Signer
  path: string
}

export interface CreateIdentityOptions {
  /** Replace an existing identity (its key is lost). @default false */
  force?: boolean
  signal?: AbortSignal
}

/**
 * Creates a new key at `path` with mode 0600 (its folder 0700 if created).
 * Without `force`, refuses when the file exists; the check and the create are one atomic open
 * (O_EXCL), so two racing commands cannot both think they created it.
 */
export async function createIdentity (path: string, options: CreateIdentityOptions = {}): Promise<Identity> {
  options.signal?.throwIfAborted()
  const { privateKey } = generateKeyPairSync('ed25519')
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  if (options.force === true) {
    // Write beside it and rename over, so a crash never leaves a half-written key in its place.
    const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`
    try {
      await writeExclusive(temporary, pem)
      options.signal?.throwIfAborted()
      await rename(temporary, path)
    } catch (error) {
      await rm(temporary, { force: true })
      throw error
    }
  } else {
    try {
      await writeExclusive(path, pem)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new PylonError('identity-exists', `identity ${path} already exists; use --force to replace it (its key will be lost)`)
      }
      throw error
    }
  }
  return { signer: signerOfPem(pem, path), path }
}

async function writeExclusive (path: string, text: string): Promise<void> {
  let handle: FileHandle | undefined
  try {
    handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600)
    await handle.writeFile(text)
    await handle.sync()
  } finally {
    await handle?.close()
  }
  await chmod(path, 0o600) // exactly 0600 whatever the umask did to the mode given to open
}

/** Loads the key at `path`, refusing a missing, oversized, foreign or group/other-readable file. */
export async function loadIdentity (path: string, options: { signal?: AbortSignal } = {}): Promise<Identity> {
  let info
  try {
    info = await stat(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new PylonError('identity-missing', `no identity at ${path}; create one with \`pylon identity new\``)
    throw error
  }
  if (!info.isFile()) throw new PylonError('identity-invalid', `identity ${path} is not a regular file`)
  if ((info.mode & 0o077) !== 0) {
    throw new PylonError('identity-permissions', `identity ${path} is readable by others (mode ${(info.mode & 0o777).toString(8).padStart(4, '0')}); run \`chmod 600 ${path}\``)
  }
  if (info.size > identityFileBytesMax) throw new PylonError('identity-invalid', `identity ${path} is too large: ${info.size} > ${identityFileBytesMax} bytes`)
  const handle = await open(path, 'r')
  let text: string
  try {
    text = await handle.readFile({ encoding: 'utf8', signal: options.signal })
  } finally {
    await handle.close()
  }
  return { signer: signerOfPem(text, path), path }
}

function signerOfPem (pem: string, path: string): Signer {
  let seed: Buffer
  try {
    const key = createPrivateKey({ key: pem, format: 'pem' })
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`a ${String(key.asymmetricKeyType)} key, not ed25519`)
    const d = key.export({ format: 'jwk' }).d
    if (d === undefined) throw new Error('no private part')
    seed = Buffer.from(d, 'base64url')
  } catch (error) {
    throw new PylonError('identity-invalid', `identity ${path} is not an Ed25519 private key in PKCS#8 PEM: ${(error as Error).message}`)
  }
  return signerFromSeed(seed, peerIdOfPublicKey)
}

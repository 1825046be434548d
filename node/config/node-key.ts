// The node's Ed25519 key in DATA_DIR/node.key (libp2p private-key protobuf, mode 0600). Its peer id
// is the NodeId. Creating never overwrites an existing key: losing a key loses the node's identity.

import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { constants } from 'node:fs'
import { open, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { peerIdOfPublicKey, type NodeId } from '../../protocol/ids.ts'
import { signerFromSeed, type Signer } from '../../protocol/signature.ts'
import { assert } from '../core/assert.ts'
import { PylonError } from '../core/errors.ts'

export const nodeKeyFile = 'node.key'

export interface NodeKey {
  nodeId: NodeId
  /** For libp2p (transport identity, gossipsub message signatures). */
  privateKey: PrivateKey
  /** For Pylon's own signed messages (adverts, votes). Same key. */
  signer: Signer
}

/** Creates a new key; throws PylonError('key-exists') if one is there. */
export async function createNodeKey (dataDir: string): Promise<NodeKey> {
  const path = join(dataDir, nodeKeyFile)
  const privateKey = await generateKeyPair('Ed25519')
  let file
  try {
    // O_EXCL: never overwrite, even if another `pylon init` races us.
    file = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new PylonError('key-exists', `${path} already exists: refusing to overwrite the node's identity`)
    throw error
  }
  try {
    await file.writeFile(privateKeyToProtobuf(privateKey))
    await file.sync()
  } finally {
    await file.close()
  }
  return nodeKeyOf(privateKey)
}

/** Loads the key; clear errors for a missing, unreadable, too-open or malformed file. */
export async function loadNodeKey (dataDir: string): Promise<NodeKey> {
  const path = join(dataDir, nodeKeyFile)
  let info
  try {
    info = await stat(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new PylonError('no-key', `no node key at ${path}: run \`pylon init --data-dir ${dataDir}\` first`)
    throw error
  }
  if ((info.mode & 0o077) !== 0) throw new PylonError('key-mode', `${path} is readable by others (mode ${(info.mode & 0o777).toString(8)}): run \`chmod 600 ${path}\``)
  let privateKey: PrivateKey
  try {
    privateKey = privateKeyFromProtobuf(await readFile(path))
  } catch (error) {
    throw new PylonError('bad-key', `${path} is not a libp2p private key: ${(error as Error).message}`)
  }
  if (privateKey.type !== 'Ed25519') throw new PylonError('bad-key', `${path} holds a ${privateKey.type} key; Pylon nodes use Ed25519`)
  return nodeKeyOf(privateKey)
}

function nodeKeyOf (privateKey: PrivateKey): NodeKey {
  // libp2p's Ed25519 raw private key is seed (32 bytes) followed by the public key (32 bytes).
  const signer = signerFromSeed(privateKey.raw.subarray(0, 32), peerIdOfPublicKey)
  assert(signer.id === privateKey.publicKey.toString(), 'node id must equal the libp2p peer id')
  return { nodeId: signer.id as NodeId, privateKey, signer }
}

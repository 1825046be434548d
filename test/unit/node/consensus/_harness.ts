// Shared pieces for ConsensusDriver tests: a signed n-member genesis, a counter application that
// commits each finalized block to its Store, and waiting helpers bounded in time.

import { encode, sha256Bytes } from '../../../../protocol/codec.ts'
import { peerIdOfPublicKey, type Height, type NodeId } from '../../../../protocol/ids.ts'
import { signerFromSeed, type Signer } from '../../../../protocol/signature.ts'
import { assembleGenesis, genesisOf, signGenesis, type Subnet } from '../../../../protocol/subnet.ts'
import { encodeStoredBlock, encodeStoredCertificate, tipFromStore, genesisHashOf, type ApplicationTip, type Block, type Certificate, type ConsensusApplication } from '../../../../node/consensus/application.ts'
import type { Store } from '../../../../node/store/store.ts'

export function signers (n: number, salt = 'driver-test'): Signer[] {
  return Array.from({ length: n }, (_, i) => signerFromSeed(sha256Bytes(encode([salt, i])), peerIdOfPublicKey))
}

/** A validated subnet of these signers (genesis signed by every member). */
export function subnetOf (keys: Signer[], deltaMs: number, multiaddrs?: (id: NodeId) => string[]): Subnet {
  const genesis = genesisOf({
    name: 'driver-test',
    members: keys.map(k => {
      const addrs = multiaddrs?.(k.id as NodeId)
      return addrs === undefined ? { nodeId: k.id as NodeId } : { nodeId: k.id as NodeId, multiaddrs: addrs }
    }),
    createdMs: 1n,
    params: { deltaMs }
  })
  const subnet = assembleGenesis(genesis, new Map(keys.map(k => [k.id, signGenesis(genesis, k)])))
  if (!subnet.ok) throw new Error(subnet.error)
  return subnet.value
}

/** Payload = the proposer's counter; finalize commits block + certificate to the store, like the subnet service. */
export class CounterApplication implements ConsensusApplication {
  readonly store: Store
  readonly genesisHash: Uint8Array
  readonly finalized: Array<{ height: bigint, block: Block }> = []
  proposals = 0
  /** Set to make verify() refuse every payload (a faulty application). */
  refuse = false

  constructor (store: Store, subnet: Subnet) {
    this.store = store
    this.genesisHash = genesisHashOf(subnet)
  }

  async propose (_parent: Uint8Array, height: bigint): Promise<Uint8Array> {
    this.proposals++
    return encode({ height })
  }

  async verify (block: Block): Promise<boolean> {
    return !this.refuse && block.payload.length < 64
  }

  async finalize (height: bigint, block: Block, certificate: Certificate): Promise<void> {
    if (height !== BigInt(this.store.height) + 1n) throw new Error(`finalize ${height} after store height ${this.store.height}`)
    await this.store.commitHeight({ height: height as Height, block: encodeStoredBlock(block), certificate: encodeStoredCertificate(certificate), writes: [], receipts: [] })
    this.finalized.push({ height, block })
  }

  async tip (): Promise<ApplicationTip> {
    return await tipFromStore(this.store, this.genesisHash)
  }
}

/** Polls `condition` every 10 ms until it holds or `timeoutMs` passes (then throws with `what`). */
export async function waitFor (condition: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

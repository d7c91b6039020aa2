/**
 * The home-slot hash of the v2 subscription table (protocol-v2.md §11.1): FNV-1a over the slot
 * key (the peer's fingerprint, then the scope id).
 */
const OFFSET = 0x811c9dc5;
const PRIME = 0x01000193;

/**
 * 32-bit FNV-1a (offset basis 0x811C9DC5, prime 0x01000193) over `fingerprint ‖ scopeId` (the
 * 40-byte key of §11.1), without building the concatenation.
 */
export function subscriptionHash(fingerprint: Uint8Array, scopeId: Uint8Array): number {
  let h = OFFSET;
  for (let i = 0; i < fingerprint.length; i++) h = Math.imul(h ^ fingerprint[i]!, PRIME);
  for (let i = 0; i < scopeId.length; i++) h = Math.imul(h ^ scopeId[i]!, PRIME);
  return h >>> 0;
}

/** Byte-array helpers shared by the protocol, the agent and the firmware simulator. */

/** True when `a` and `b` hold the same bytes (constant-time is not needed: ids and nonces are public). */
export function equalBytes(a: Uint8Array, b: Uint8Array | null): boolean {
  if (b === null || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The keys one scope's membership commands ever named (design v2-scopes §1.7), numbered in the
 * order first seen, with their 8-byte fingerprints: what lets a state hold key numbers and an
 * author fingerprint be resolved without hashing again. Kept for the graph's lifetime.
 */
import { fingerprint } from './command.js';

/** A byte string as a map key (one char per byte, no copy of the bytes). @internal */
export function bkey(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');
}

/** The numbered keys of one {@link MembershipGraph}. @internal */
export class MembershipKeys {
  private readonly keys: Uint8Array[] = [];
  private readonly keyFp: string[] = [];
  private readonly keyByPk = new Map<string, number>();
  private readonly keysByFp = new Map<string, number[]>();

  /** Key number of a full public key, if the scope ever named it. */
  keyNumber(publicKey: Uint8Array): number | undefined {
    return this.keyByPk.get(bkey(publicKey));
  }
  /** The public key numbered `k` (a number this table handed out). */
  keyAt(k: number): Uint8Array {
    return this.keys[k]!;
  }
  /** The fingerprint of key `k`, as a {@link bkey}. */
  fingerprintOf(k: number): string {
    return this.keyFp[k]!;
  }
  /** Numbers of the keys with this 8-byte fingerprint (usually one, or none). */
  withFingerprint(author: Uint8Array): readonly number[] {
    return this.keysByFp.get(bkey(author)) ?? [];
  }

  /** The number of `publicKey`, given one (and its fingerprint computed) when first seen. */
  intern(publicKey: Uint8Array): number {
    const pk = bkey(publicKey);
    const known = this.keyByPk.get(pk);
    if (known !== undefined) return known;
    const k = this.keys.length;
    const fp = bkey(fingerprint(publicKey));
    this.keys.push(Uint8Array.from(publicKey));
    this.keyFp.push(fp);
    this.keyByPk.set(pk, k);
    const same = this.keysByFp.get(fp);
    if (same === undefined) this.keysByFp.set(fp, [k]);
    else same.push(k);
    return k;
  }
}

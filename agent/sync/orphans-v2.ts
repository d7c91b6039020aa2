/**
 * The orphan buffer of protocol v2 (docs/design/v2-scopes.md §2.3 step 3): commands whose
 * parents cannot be resolved yet, waiting for them. Same bounds and drop rule as v1's
 * `orphans.ts` (2,048 commands / 1 MiB, the oldest dropped when full; a later poll fetches it
 * again), but one buffer serves every scope of a host, so the bound is over all scopes.
 *
 * Why not v1's buffer: it holds v1 commands and keys orphans by id alone, which is right only
 * because v1 verifies before parking. v2 orphans are unverified (their author key is not known
 * before their parents are), so a forged copy carrying a genuine command's id must not shut out
 * the genuine one: entries are keyed by scope, id and signature, and waits by scope and id.
 *
 * Records (§4.6) resolve parents too, but they are pending per (link, scope) and only for a
 * while, so an orphan may wait for an id that a record of its sender's next answer names; the
 * buffer is therefore also indexed by (scope, sender), for {@link OrphanBufferV2.takeResolved}.
 */
import type { CommandV2 } from '../../protocol/command-v2.js';
import { toHex } from '../../protocol/keys.js';

/** One waiting command. */
export interface OrphanV2 {
  /** Hex of its scope id. */
  scope: string;
  cmd: CommandV2;
  /** The peer it came from. */
  from: string;
  /** Ids (hex) it was waiting for when parked. */
  missing: readonly string[];
  /** The same ids as bytes (what a record lookup takes). */
  missingIds: readonly Uint8Array[];
}

/** Bounded buffer of unverified v2 orphans, shared by the scopes of a host. */
export class OrphanBufferV2 {
  private readonly byKey = new Map<string, OrphanV2>();
  private readonly waiting = new Map<string, Set<string>>();
  /** Entry keys by `${scope} ${from}`: the scope hex has a fixed length, so the key is unambiguous. */
  private readonly bySender = new Map<string, Set<string>>();
  private bytesHeld = 0;
  /** Orphans dropped to stay within the bounds, since start. */
  dropped = 0;

  /** Defaults: 2,048 commands, 1 MiB of command bytes (v1's bounds, §2.3). */
  constructor(
    readonly maxCount = 2048,
    readonly maxBytes = 1 << 20,
  ) {}

  /** Orphans held. */
  get size(): number {
    return this.byKey.size;
  }
  /** Command bytes held. */
  get bytes(): number {
    return this.bytesHeld;
  }

  /** Whether this exact command (same id and signature) waits in scope `scope` (hex). */
  has(scope: string, cmd: CommandV2): boolean {
    return this.byKey.size > 0 && this.byKey.has(entryKey(scope, cmd));
  }

  /** Park `cmd` of scope `scope` (hex) until every id in `missing` arrives; a repeat changes nothing. */
  add(scope: string, cmd: CommandV2, from: string, missing: readonly Uint8Array[]): void {
    const key = entryKey(scope, cmd);
    if (this.byKey.has(key)) return;
    while (this.byKey.size > 0 && (this.byKey.size >= this.maxCount || this.bytesHeld + cmd.bytes.length > this.maxBytes)) {
      this.drop(this.byKey.keys().next().value as string); // non-empty: size > 0
      this.dropped++;
    }
    const ids: string[] = [];
    const missingIds: Uint8Array[] = [];
    for (const m of missing) {
      const hex = toHex(m);
      if (ids.includes(hex)) continue;
      ids.push(hex);
      missingIds.push(m.slice());
    }
    this.byKey.set(key, { scope, cmd, from, missing: ids, missingIds });
    this.bytesHeld += cmd.bytes.length;
    const sk = senderKey(scope, from);
    let mine = this.bySender.get(sk);
    if (mine === undefined) this.bySender.set(sk, (mine = new Set()));
    mine.add(key);
    for (const m of ids) {
      const w = `${scope}:${m}`;
      let set = this.waiting.get(w);
      if (set === undefined) this.waiting.set(w, (set = new Set()));
      set.add(key);
    }
  }

  /** Remove and return the orphans of `scope` (hex) that waited for `id` (they may still lack others). */
  release(scope: string, id: Uint8Array): OrphanV2[] {
    if (this.waiting.size === 0) return []; // the common case, once per placed command: no key built
    const w = `${scope}:${toHex(id)}`;
    const keys = this.waiting.get(w);
    if (keys === undefined) return [];
    this.waiting.delete(w);
    const out: OrphanV2[] = [];
    for (const k of keys) {
      const o = this.byKey.get(k);
      if (o === undefined) continue;
      out.push(o);
      this.drop(k);
    }
    return out;
  }

  /** The ids this exact command (same id and signature) of `scope` (hex) waits for, or undefined. */
  missingOf(scope: string, cmd: CommandV2): readonly Uint8Array[] | undefined {
    return this.byKey.size === 0 ? undefined : this.byKey.get(entryKey(scope, cmd))?.missingIds;
  }

  /** Remove this exact command of `scope` (hex) if it waits; whether it did. */
  remove(scope: string, cmd: CommandV2): boolean {
    if (this.byKey.size === 0) return false;
    const key = entryKey(scope, cmd);
    if (!this.byKey.has(key)) return false;
    this.drop(key);
    return true;
  }

  /**
   * Remove and return the orphans of `scope` (hex) received from `from` of which `resolves`
   * accepts at least one waited-for id (they may still lack others). Costs one call per id the
   * sender's orphans of that scope wait for, so a flooding peer slows only its own batches.
   */
  takeResolved(scope: string, from: string, resolves: (id: Uint8Array) => boolean): OrphanV2[] {
    const keys = this.bySender.get(senderKey(scope, from));
    if (keys === undefined) return [];
    const out: OrphanV2[] = [];
    for (const k of [...keys]) {
      const o = this.byKey.get(k);
      if (o === undefined || !o.missingIds.some(resolves)) continue;
      out.push(o);
      this.drop(k);
    }
    return out;
  }

  /** Forget every orphan of `scope` (hex), e.g. when the scope is dropped. */
  clearScope(scope: string): void {
    for (const [k, o] of this.byKey) if (o.scope === scope) this.drop(k);
  }

  private drop(key: string): void {
    const o = this.byKey.get(key);
    if (o === undefined) return;
    this.byKey.delete(key);
    this.bytesHeld -= o.cmd.bytes.length;
    const sk = senderKey(o.scope, o.from);
    const mine = this.bySender.get(sk);
    mine?.delete(key);
    if (mine?.size === 0) this.bySender.delete(sk);
    for (const m of o.missing) {
      const w = `${o.scope}:${m}`;
      const set = this.waiting.get(w);
      set?.delete(key);
      if (set?.size === 0) this.waiting.delete(w);
    }
  }
}

function senderKey(scope: string, from: string): string {
  return `${scope} ${from}`;
}

function entryKey(scope: string, cmd: CommandV2): string {
  return `${scope}:${toHex(cmd.id)}:${cmd.signature === null ? 'held' : toHex(cmd.signature)}`;
}

/**
 * One link's scope table (docs/design/v2-scopes.md §3.3): which scopes this side syncs with the
 * peer, and under which numbers each side names them. Pure state, no timers, no I/O: the
 * stop-and-wait schedule of `Scopes` is scope-announcer.ts's, the receiver rules are in
 * scope-receiver.ts, what the table needs from outside (membership, join policy, poll loops and
 * subscription slots) is its {@link ScopeTableHost}.
 *
 * Own entry for a scope S (`mine`, by number):
 * ```
 * (queued) ──sent in a Scopes──▶ pending ──ScopesAck──▶ open
 *    │                              │   └──listed in refused──▶ refused
 *    └──close (never sent)          └──close──▶ closed (a close for the number is queued)
 * ```
 * A scope whose entry is `refused` or `closed` is opened again under a new number.
 */
import { MAX_SCOPE_NUMBER, MAX_SCOPES_CLOSE, MAX_SCOPES_OPEN } from '../../protocol/constants-v2.js';
import { toHex } from '../../protocol/keys.js';
import { receiveScopes, receiveScopesAck, type EntryState, type OwnEntry, type ReceiverState, type ScopeTableHost, type ScopesAckMessage, type ScopesMessage } from './scope-receiver.js';

export type { EntryState, JoinVerdict, OwnEntry, ScopeCounter, ScopeTableHost, ScopesAckMessage, ScopesMessage } from './scope-receiver.js';

/** Map key of a scope id. */
export const scopeKey = (scopeId: Uint8Array): string => toHex(scopeId);

interface QueuedOpen {
  readonly key: string;
  readonly scopeId: Uint8Array;
  readonly name: string;
}

/** The scope table of one link, both directions. A new link starts with a new table (§3.3 rule 4). */
export class ScopeTable implements ReceiverState {
  /** Own entries by number, every number this side assigned on the link (never reused). */
  readonly mine = new Map<number, OwnEntry>();
  /** The peer's accepted, not closed entries: scope key → the peer's number for it. */
  readonly theirs = new Map<string, number>();
  /** The same entries by the peer's number. */
  readonly theirScopes = new Map<number, Uint8Array>();
  /** Every number the peer used in an `open` entry on this link, accepted or not. */
  readonly peerNumbers = new Set<number>();
  /** Scope key → this side's newest number for it (the only one that can be pending or open). */
  private readonly newest = new Map<string, number>();
  private queuedOpen: QueuedOpen[] = [];
  private queuedClose: number[] = [];
  private nextNumber = 0;
  private nextSeq = 0;
  /** The `Scopes` sent and not yet acknowledged (at most one: §3.3 rule 3). */
  outstanding: ScopesMessage | null = null;
  /** `seq` of the next `Scopes` the peer may send. */
  expected = 0;
  /** The last `ScopesAck` sent, resent for a repeated `Scopes`. */
  lastAck: ScopesAckMessage | null = null;
  /** The `Scopes` that {@link lastAck} answered: a repeat must carry the same entries. */
  lastApplied: ScopesMessage | null = null;

  constructor(readonly host: ScopeTableHost) {}

  /** Whether S is active: this side's entry is `open` and the peer's is accepted. Scoped messages are sent only then. */
  active(scopeId: Uint8Array): boolean {
    const k = scopeKey(scopeId);
    return this.ownState(k) === 'open' && this.theirs.has(k);
  }

  /** The number to name S by in a message to the peer, while S is active; else undefined. */
  theirNumber(scopeId: Uint8Array): number | undefined {
    const k = scopeKey(scopeId); // once: a push pass asks this for every subscriber of a commit
    return this.ownState(k) === 'open' ? this.theirs.get(k) : undefined;
  }

  /**
   * The scope a received scoped message names by `n` (one of this side's numbers): n's entry is
   * `open` or `pending` (rule 5: the peer knows a pending number from our `Scopes`, its ack may be
   * lost or overtaken) and the peer's entry for that scope is accepted (§3.10). Undefined
   * otherwise: the caller answers `UnknownScope` with `n` as received, or drops (§3.10).
   */
  scopeOfMine(n: number): Uint8Array | undefined {
    const e = this.mine.get(n);
    if (e === undefined || (e.state !== 'open' && e.state !== 'pending')) return undefined;
    return this.theirs.has(scopeKey(e.scopeId)) ? e.scopeId : undefined;
  }

  /** Whether S can carry scoped messages either way (own entry pending or open, the peer's accepted). */
  usable(key: string): boolean {
    const s = this.ownState(key);
    return (s === 'open' || s === 'pending') && this.theirs.has(key);
  }

  /** State of this side's newest entry for the scope with this key, undefined when it never opened one. */
  ownState(key: string): EntryState | undefined {
    return this.ownEntry(key)?.state;
  }

  /** This side's newest entry for the scope with this key, if any. */
  ownEntry(key: string): OwnEntry | undefined {
    const n = this.newest.get(key);
    return n === undefined ? undefined : this.mine.get(n);
  }

  /** Whether a `Scopes` is waiting to be built (entries queued). */
  get hasQueued(): boolean {
    return this.queuedOpen.length > 0 || this.queuedClose.length > 0;
  }

  /**
   * Queue an entry opening S under `name` (the genesis name) for the next `Scopes` (sender rule 1);
   * its number is assigned when that message is built, in the order of the opens (rule 2). A no-op
   * while S has an entry queued, pending or open. False, counted `numbersExhausted`, when the
   * link's 65,536 numbers are all used: only a new link has more.
   */
  open(scopeId: Uint8Array, name: string): boolean {
    const key = scopeKey(scopeId);
    const s = this.ownState(key);
    if (s === 'pending' || s === 'open' || this.queuedOpen.some((q) => q.key === key)) return true;
    if (this.nextNumber + this.queuedOpen.length > MAX_SCOPE_NUMBER) {
      this.host.count('numbersExhausted');
      return false;
    }
    this.queuedOpen.push({ key, scopeId, name });
    return true;
  }

  /**
   * Close this side's entry for S (sender rule 1: S is no longer granted to the peer, or no longer
   * held): S is inactive at once — before the close is even sent, so nothing more of S goes to a
   * peer it is no longer granted to (rule 5 asks this from the send on). An open still queued is
   * just forgotten. A no-op when S has no pending or open entry.
   */
  close(scopeId: Uint8Array): void {
    const key = scopeKey(scopeId);
    const q = this.queuedOpen.findIndex((e) => e.key === key);
    if (q >= 0) {
      this.queuedOpen.splice(q, 1);
      return;
    }
    const n = this.newest.get(key);
    const e = n === undefined ? undefined : this.mine.get(n);
    if (n === undefined || e === undefined || (e.state !== 'pending' && e.state !== 'open')) return;
    const was = this.usable(key);
    e.state = 'closed';
    this.queuedClose.push(n);
    if (was) this.host.onInactive(scopeId);
  }

  /**
   * The next `Scopes` to send, or null while one is unacknowledged or nothing is queued (rules 3,
   * 4). At most {@link MAX_SCOPES_CLOSE} closes and {@link MAX_SCOPES_OPEN} opens; the rest go in
   * the next messages, in order. A reopen never precedes the close of its scope's previous number
   * (the receiver applies closes first, and refuses a scope it still has as `Malformed`).
   */
  nextScopes(): ScopesMessage | null {
    if (this.outstanding !== null || !this.hasQueued) return null;
    const close = this.queuedClose.splice(0, MAX_SCOPES_CLOSE);
    const open: [number, Uint8Array, string][] = [];
    while (open.length < MAX_SCOPES_OPEN) {
      const q = this.queuedOpen[0];
      if (q === undefined) break;
      const prev = this.newest.get(q.key);
      if (prev !== undefined && this.queuedClose.includes(prev)) break;
      this.queuedOpen.shift();
      const n = this.nextNumber++;
      this.mine.set(n, { scopeId: q.scopeId, name: q.name, state: 'pending' });
      this.newest.set(q.key, n);
      open.push([n, q.scopeId, q.name]);
    }
    this.outstanding = { type: 'Scopes', seq: this.nextSeq++, open, close };
    return this.outstanding;
  }

  /**
   * A `ScopesAck` arrived (receiver rule 4). For the outstanding `seq`: each of that message's
   * opens becomes `open`, or `refused` when listed (the host logs the reason), and true: the next
   * `Scopes` may go. Any other `seq`: dropped, counted `scopesAckDropped`, false. An entry closed
   * while pending stays closed.
   */
  onScopesAck(msg: ScopesAckMessage): boolean {
    return receiveScopesAck(this, msg);
  }

  /**
   * A `Scopes` arrived (receiver rules 1–3): the `ScopesAck` to send, or 'drop' (counted
   * `scopesDropped`) for a `seq` neither expected nor the one last acknowledged. A repeat of the
   * last one (its ack was lost) gets the same ack object again and is not applied twice; one with
   * other entries is 'conflict' (counted `scopesConflicting`): the link must close.
   */
  onScopes(msg: ScopesMessage): ScopesAckMessage | 'drop' | 'conflict' {
    return receiveScopes(this, msg);
  }

  /** Forget a queued close of own number `n` (the peer refused that entry: nothing to close there). */
  unqueueClose(n: number): void {
    this.queuedClose = this.queuedClose.filter((c) => c !== n);
  }
}

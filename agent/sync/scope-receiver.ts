/**
 * Receiving `Scopes` and `ScopesAck` (docs/design/v2-scopes.md §3.3, receiver rules 1–4), and the
 * shapes of both messages and of the table's host. The state these rules change is one link's
 * {@link ScopeTable}, seen here only through {@link ReceiverState}; rule 5 (routing a scoped
 * message by a pending number) is the table's `scopeOfMine`.
 */
import { equalBytes } from '../../protocol/bytes.js';
import { MAX_LINK_SCOPES, MAX_SCOPE_NUMBER, SCOPE_NAME_PATTERN } from '../../protocol/constants-v2.js';
import { ReasonCode, reasonName } from '../../protocol/errors.js';
import { toHex } from '../../protocol/keys.js';

/** `Scopes` (10): the sender's opens and closes of its own entries. */
export interface ScopesMessage {
  type: 'Scopes';
  /** 0 for the first on a link, +1 for each next one. */
  seq: number;
  /** `[number, scope id, name]`: "name this scope to me by `number`"; at most 8 (`MAX_SCOPES_OPEN`). */
  open: [number, Uint8Array, string][];
  /** Numbers of the sender's own entries it closes; at most 16 (`MAX_SCOPES_CLOSE`). */
  close: number[];
}

/** `ScopesAck` (11): `[number, reason code]` for each entry of `Scopes` `seq`'s `open` list not accepted. */
export interface ScopesAckMessage {
  type: 'ScopesAck';
  seq: number;
  refused: [number, number][];
}

/** State of one of this side's entries (`mine`). */
export type EntryState = 'pending' | 'open' | 'refused' | 'closed';

/** One of this side's entries. */
export interface OwnEntry {
  readonly scopeId: Uint8Array;
  /** The genesis name announced with it. */
  readonly name: string;
  state: EntryState;
  /**
   * The peer's entry for S was accepted while this one was pending: a refusal of this one may
   * predate the peer's open (an ack lost and repeated), so it is answered by one reopen.
   */
  crossed?: boolean;
}

/** What a host's join policy (§1.9) says of a scope it does not hold, offered by this peer. */
export type JoinVerdict =
  /** Accepted: the host created S empty (`joining`); it now holds S and grants it to this peer. */
  | 'joined'
  /** Not `device/<own id>` nor in `scopes.join`, not from a trusted peer, or a scope of that name is held. */
  | 'declined'
  /** The host holds `scopes.max` scopes already. */
  | 'full';

/** What a link's table counts. */
export type ScopeCounter =
  /** A `Scopes` whose `seq` was neither expected nor the last one (stale or reordered): dropped. */
  | 'scopesDropped'
  /** A `Scopes` repeated (its ack was lost): the same ack sent again, nothing applied twice. */
  | 'scopesRepeated'
  /** A `Scopes` under the last applied `seq` with other entries: the two tables disagree, the link is closed. */
  | 'scopesConflicting'
  /** A `ScopesAck` for no outstanding `Scopes`: dropped. */
  | 'scopesAckDropped'
  /** The peer refused one of our entries. */
  | 'scopeRefused'
  /** A close naming no accepted entry of the peer (its entry was refused, or a duplicate). */
  | 'closeUnknown'
  /** An open not queued: the link's 65,536 numbers are used up. */
  | 'numbersExhausted';

/** What one link's table needs from the session and the engine. */
export interface ScopeTableHost {
  /** Whether this host holds S (joining included). */
  holds(scopeId: Uint8Array): boolean;
  /** Whether S is granted to this link's peer now (§1.8). */
  grants(scopeId: Uint8Array): boolean;
  /** The join policy (§1.9) for a scope not held, offered under `name`; after 'joined' the host holds S. */
  join(scopeId: Uint8Array, name: string): JoinVerdict;
  /** S became active on this link: name it to the peer by `theirNumber`. */
  onActive(scopeId: Uint8Array, theirNumber: number): void;
  /**
   * S can carry no more scoped messages on this link: drop its poll loop and the (peer, S)
   * subscription slot (§3.8). Also called for an entry that served rule-5 traffic while pending
   * and never became active: idempotent for the host.
   */
  onInactive(scopeId: Uint8Array): void;
  /** The peer refused our entry for S; `reason` the code's name (its number when unknown). Logged at info. */
  onRefused(scopeId: Uint8Array, name: string, reason: string | number): void;
  count(what: ScopeCounter): void;
}

/** The table as the receiver rules see it. */
export interface ReceiverState {
  readonly host: ScopeTableHost;
  /** Own entries by number. */
  readonly mine: ReadonlyMap<number, OwnEntry>;
  /** The peer's accepted, not closed entries: scope key (hex id) → the peer's number. */
  readonly theirs: Map<string, number>;
  /** The same, by the peer's number. */
  readonly theirScopes: Map<number, Uint8Array>;
  /** Every number the peer used in an `open` entry on this link. */
  readonly peerNumbers: Set<number>;
  /** The `Scopes` sent and not acknowledged. */
  outstanding: ScopesMessage | null;
  /** `seq` of the next `Scopes` the peer may send. */
  expected: number;
  /** The last `ScopesAck` sent. */
  lastAck: ScopesAckMessage | null;
  /** The `Scopes` that ack answered (a repeat must match it). */
  lastApplied: ScopesMessage | null;
  /** Own entry pending or open and the peer's accepted: what {@link ScopeTableHost.onInactive} ends. */
  usable(key: string): boolean;
  /** This side's newest entry for the scope, undefined when it never opened one. */
  ownEntry(key: string): OwnEntry | undefined;
  /** Queue an open of S toward the peer (sender rule 1). */
  open(scopeId: Uint8Array, name: string): boolean;
  /** Forget a queued close of own number `n`. */
  unqueueClose(n: number): void;
}

/**
 * Rule 1: apply an in-order `Scopes` (closes first, then opens) and give its ack; repeat the last
 * ack for a repeat of the last one; drop the rest. 'conflict': the `seq` of the last one with other
 * entries — the peer's table is not the one this side applied (its tables restarted twice, or a
 * forged message was applied), which no ack can mend: the caller closes the link.
 */
export function receiveScopes(t: ReceiverState, msg: ScopesMessage): ScopesAckMessage | 'drop' | 'conflict' {
  if (msg.seq === t.expected) {
    t.lastApplied = msg;
    for (const n of msg.close) closeEntry(t, n);
    const refused: [number, number][] = [];
    for (const [n, scopeId, name] of msg.open) {
      const reason = openEntry(t, n, scopeId, name);
      if (reason !== null) refused.push([n, reason]);
    }
    t.expected++;
    return (t.lastAck = { type: 'ScopesAck', seq: msg.seq, refused });
  }
  if (t.lastAck !== null && msg.seq === t.expected - 1) {
    if (t.lastApplied !== null && !sameEntries(t.lastApplied, msg)) {
      t.host.count('scopesConflicting');
      return 'conflict';
    }
    t.host.count('scopesRepeated');
    return t.lastAck;
  }
  t.host.count('scopesDropped');
  return 'drop';
}

/** Rule 4: an ack of the outstanding `Scopes` settles its opens; true when it was that ack. */
export function receiveScopesAck(t: ReceiverState, msg: ScopesAckMessage): boolean {
  const out = t.outstanding;
  if (out === null || msg.seq !== out.seq) {
    t.host.count('scopesAckDropped');
    return false;
  }
  t.outstanding = null;
  const refused = new Map(msg.refused);
  for (const [n] of out.open) {
    const e = t.mine.get(n);
    const code = refused.get(n);
    // Closed while pending: stays closed; when refused, the peer has nothing to close.
    if (e?.state === 'closed' && code !== undefined) t.unqueueClose(n);
    if (e?.state !== 'pending') continue;
    const key = toHex(e.scopeId);
    if (code === undefined) {
      e.state = 'open';
      const theirs = t.theirs.get(key);
      if (theirs !== undefined) t.host.onActive(e.scopeId, theirs);
      continue;
    }
    const was = t.usable(key);
    e.state = 'refused';
    t.host.count('scopeRefused');
    t.host.onRefused(e.scopeId, e.name, reasonName(code) ?? code);
    if (was) t.host.onInactive(e.scopeId);
    // Sender rule 1's reopen, for the order the rule does not see: the peer's open of S was
    // accepted before this (possibly older) refusal arrived. Once: a fresh refusal stands.
    if (e.crossed === true && t.theirs.has(key) && t.host.holds(e.scopeId) && t.host.grants(e.scopeId)) t.open(e.scopeId, e.name);
  }
  return true;
}

/** Rule 2: the peer closes its entry `n`. Our own entry for S is not affected. */
function closeEntry(t: ReceiverState, n: number): void {
  const scopeId = t.theirScopes.get(n);
  if (scopeId === undefined) return t.host.count('closeUnknown');
  const key = toHex(scopeId);
  const was = t.usable(key);
  t.theirScopes.delete(n);
  t.theirs.delete(key);
  if (was) t.host.onInactive(scopeId);
}

/** Rule 3: one `open` entry; null when accepted, else the reason code of its refusal. */
function openEntry(t: ReceiverState, n: number, scopeId: Uint8Array, name: string): number | null {
  const key = toHex(scopeId);
  // The message schema refuses these shapes already; checked again so a bad entry never becomes state.
  if (!(Number.isInteger(n) && n >= 0 && n <= MAX_SCOPE_NUMBER && scopeId.length === 32 && SCOPE_NAME_PATTERN.test(name))) return ReasonCode.Malformed;
  const reused = t.peerNumbers.has(n);
  t.peerNumbers.add(n);
  if (reused || t.theirs.has(key)) return ReasonCode.Malformed;
  if (t.theirs.size >= MAX_LINK_SCOPES) return ReasonCode.TooManyScopes;
  let joined = false;
  if (t.host.holds(scopeId)) {
    if (!t.host.grants(scopeId)) return ReasonCode.NotAMember;
  } else {
    const verdict = t.host.join(scopeId, name);
    if (verdict === 'declined') return ReasonCode.ScopeDeclined;
    if (verdict === 'full') return ReasonCode.TooManyScopes;
    joined = true;
  }
  t.theirs.set(key, n);
  t.theirScopes.set(n, scopeId);
  const own = t.ownEntry(key);
  if (own?.state === 'open') t.host.onActive(scopeId, n);
  else if (own?.state === 'pending') own.crossed = true;
  // Sender rule 1: a joined scope is opened back; so is one whose own entry the peer refused or
  // we closed, now that it is granted (both views of the membership have converged since). A held
  // scope never opened here stays inactive until the host opens it (it opens all at link-up).
  else if (joined) t.open(scopeId, name);
  else if (own !== undefined) t.open(scopeId, own.name);
  return null;
}

/** Whether two `Scopes` of the same `seq` carry the same entries. */
function sameEntries(a: ScopesMessage, b: ScopesMessage): boolean {
  return (
    a.close.length === b.close.length &&
    a.close.every((n, i) => n === b.close[i]) &&
    a.open.length === b.open.length &&
    a.open.every(([n, id, name], i) => n === b.open[i]![0] && equalBytes(id, b.open[i]![1]) && name === b.open[i]![2])
  );
}

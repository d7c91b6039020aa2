/**
 * One hosted scope end to end (docs/design/v2-scopes.md §1.8, §4): its store, membership,
 * acceptance pipeline, retention and poll answers, with no wire and no engine. The caller (the
 * registry, later the engine) moves requests and answers between hosts: {@link ScopeHost.request}
 * builds this host's poll of a peer, {@link ScopeHost.answer} answers a peer's poll (and raises
 * `heldFloor`, §4.2), {@link ScopeHost.accept} takes the peer's answer (§4.6: records become
 * pending records, the gap marker is written before any command, commands go through ingest,
 * which adopts the records they name). Retention runs after each accepted batch or commit and on
 * a periodic tick of the injected scheduler. Access (§1.8, §3.10) is checked on every answer and
 * every accepted answer: a peer the scope is not granted to gets nothing and gives nothing.
 */
import type { BatchVerify } from './ingest-v2-types.js';
import { decodeCommandV2, type CommandV2 } from '../../protocol/command-v2.js';
import { compareBytes } from '../../protocol/command.js';
import { equalBytes } from '../../protocol/bytes.js';
import { MAX_HEADS } from '../../protocol/constants.js';
import { CommandKind } from '../../protocol/constants-v2.js';
import { SyncwireError } from '../../protocol/errors.js';
import { toHex } from '../../protocol/keys.js';
import type { PollRequest, PollResponse } from '../../protocol/messages-v2.js';
import type { RetentionPlan } from '../store/retention.js';
import { resolveRetention, type RetentionConfig, type ResolvedRetention } from '../store/retention-policy.js';
import type { GapRecord, ScopeStore } from '../store/scope-store-contract.js';
import type { Delivery } from './ingest.js';
import { ScopeIngest, type IngestV2Result, type Signer } from './ingest-v2.js';
import { PushIntake } from './push-intake.js';
import type { OrphanBufferV2 } from './orphans-v2.js';
import { PendingRecords, classifyItems, sampleV2 } from './pending-records.js';
import { PollAnswererV2, headsOf, type AnswerOptions, type PollJobV2 } from './poll-answer-v2.js';
import { RetentionFullError } from './retention-full-error.js';
import type { Scheduler } from './scope-announcer.js';
import type { ScopeMembership } from './scope-membership.js';
import { ScopeRetention } from './scope-retention.js';

/** How often retention runs without appends (§4.2: every 60 s), ms. */
export const RETENTION_TICK_MS = 60_000;

/** A peer as the access checks see it: its id (cursor and round keys), full key and link trust. */
export interface PeerRef {
  id: string;
  publicKey: Uint8Array;
  /** Whether this host's link trust admits the peer (what `open_read` relies on). */
  trusted: boolean;
}

/** What the host tells its owner. Every member is optional. */
export interface ScopeHostEvents {
  appended?(host: ScopeHost, handles: readonly number[], from: string, how: Delivery): void;
  /** Membership commands were appended: re-evaluate grants of every peer S is active with (§1.8). */
  membershipChanged?(host: ScopeHost, handles: readonly number[]): void;
  /** A gap marker was written before the next command (§4.6). */
  gap?(host: ScopeHost, records: readonly GapRecord[], from: string): void;
  /** A periodic retention run failed (a store error); the next tick tries again. */
  error?(host: ScopeHost, err: unknown): void;
}

/** Options of {@link ScopeHost}. */
export interface ScopeHostOptions {
  /** The scope's store, opened with `membership.openHooks()` (or replayed by `ScopeMembership.load`). */
  store: ScopeStore;
  membership: ScopeMembership;
  /** The host's own identity: commits are signed with it, its commands are protected (§4.2). */
  identity: Signer;
  /** The name announced for a scope being joined; otherwise the genesis name is used. */
  name?: string;
  /** Set while joining: the peer the scope is joined from, the only one granted it meanwhile (§1.8). */
  joinFrom?: Uint8Array;
  /** The join entry pinned the scope's id: its genesis need not grant this host R (§6.9). */
  joinPinned?: boolean;
  /** `scopes.retention` (§4.1). Default: none (the genesis, then forever). */
  retention?: RetentionConfig;
  /** Timers for the periodic run. Default: none (no tick). */
  scheduler?: Scheduler;
  /** Tick period, ms. Default {@link RETENTION_TICK_MS}. */
  tickMs?: number;
  /** Clock, seconds (same as the store's). Default `Date.now() / 1000`. */
  nowS?: () => number;
  /** The host's orphan buffer shared by its scopes. Default: a private one. */
  orphans?: OrphanBufferV2;
  events?: ScopeHostEvents;
  /** HORIZON_TARGET override (tests). */
  horizonTarget?: number;
  /** How compact batches are checked (PROTOCOL.md §10.7). Default 'covers'. */
  batchVerify?: BatchVerify;
  /** Take covered commands without their signatures and ask peers with `CompactBatch` for `elide` (engine setting `elide`, §10.7). Default false. */
  elide?: boolean;
}

/** A finished answer and the id of the last command it carries (null when none): a poll train's next request names it. */
export interface FinishedAnswer {
  response: PollResponse;
  lastCommand: Uint8Array | null;
}

/** What {@link ScopeHost.accept} did. */
export interface AcceptResult extends IngestV2Result {
  /** Items that were neither a command nor a decodable record. */
  malformed: number;
  /** The gap marker written for this answer, or null. */
  gap: GapRecord[] | null;
  /** Set when the peer is not granted the scope: nothing was taken. */
  refused?: 'NotAMember';
  /** The answer's `total` (the commands the peer retains in S, PROTOCOL.md §10); absent when the caller gave none (a push). */
  total?: number;
  /** The answer's `more`; absent when the caller gave none (a push). */
  more?: boolean;
  /** Encoded bytes of `appended`, counted before retention ran (it may prune some of them). */
  bytes?: number;
  /**
   * An answer with `more` = false whose heads name a command this host neither holds, has in its
   * horizon nor will not keep (one carried and refused or pruned here): the responder holds
   * commands it did not send (PROTOCOL.md §13.3). Absent otherwise.
   */
  behind?: boolean;
}

interface RequesterState {
  pending: PendingRecords;
  responderHeads: Uint8Array[];
  /** Responder heads it sent that this host will not keep (pruned here, or refused): named in every sample. */
  unwanted: Uint8Array[];
  /** Whether the last poll to this peer set `elide` (C4 looks at the answers to such a poll). */
  elideAsked: boolean;
  /** C4: no `elide` to this peer before this time (s): a cover failed in an answer to an `elide` poll. */
  elideOffUntilS: number;
  /** The last command of the peer's newest answer while its round lasts (`more` true): named in the next poll (§10.2). */
  lastOfAnswer: Uint8Array | null;
}

/** C4 (PROTOCOL.md §10.7): how long a requester stops asking a peer for `elide` after a bad cover, s. */
export const ELIDE_COOLDOWN_S = 60;

/** Most unwanted responder heads named per peer (they share the sample's 32 slots). */
const MAX_UNWANTED = 8;
const NO_GENESIS_RETENTION = { maxCommands: 0, maxBytes: 0, maxAgeS: 0 };
const EMPTY_RESULT = (): IngestV2Result => ({ appended: [], membership: [], duplicates: 0, orphaned: 0, rejected: {} });

/** One hosted scope. */
export class ScopeHost {
  readonly store: ScopeStore;
  readonly membership: ScopeMembership;
  readonly ingest: ScopeIngest;
  /** Pushed commands of this scope waiting for placement, over all links: bounded (§11.8). */
  readonly pushIntake = new PushIntake();
  private readonly answerer: PollAnswererV2;
  private readonly requesters = new Map<string, RequesterState>();
  private retention: ScopeRetention | null = null;
  private resolved: ResolvedRetention | null = null;
  private cancelTick: (() => void) | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  /** The retention run queued and not started yet, which a call of {@link retain} joins. */
  private waitingRun: Promise<RetentionPlan<Uint8Array[]> | null> | null = null;
  private closed = false;
  private readonly nowS: () => number;
  private idHex: string | undefined;

  constructor(private readonly o: ScopeHostOptions) {
    this.store = o.store;
    this.membership = o.membership;
    this.nowS = o.nowS ?? (() => Math.floor(Date.now() / 1000));
    const join = o.joinFrom !== undefined && o.store.size === 0 && o.name !== undefined ? { name: o.name, publicKey: o.identity.publicKey, pinned: o.joinPinned === true } : undefined;
    this.ingest = new ScopeIngest({
      store: o.store, membership: o.membership, ...(o.orphans ? { orphans: o.orphans } : {}), ...(join ? { join } : {}),
      ...(o.batchVerify === undefined ? {} : { batchVerify: o.batchVerify }),
      ...(o.elide === true ? { elide: true, onBadCover: (from: string) => this.badCover(from) } : {}),
      onAppended: (hs, from, how) => {
        const had = this.retention;
        const r = this.retentionState(); // created now (the genesis just arrived): it counted these already
        if (had !== null && r !== null) for (const h of hs) r.appended(h);
        o.events?.appended?.(this, hs, from, how);
      },
      onMembershipChanged: (hs) => o.events?.membershipChanged?.(this, hs),
    });
    this.answerer = new PollAnswererV2(o.store, (f) => o.membership.idsOf(f));
    this.retentionState();
    this.arm();
  }

  /** The scope id. */
  get id(): Uint8Array {
    return this.store.scopeId;
  }

  /** The scope id in hex (the key of the engine's maps by scope), computed once. */
  get key(): string {
    return (this.idHex ??= toHex(this.store.scopeId));
  }

  /** The genesis name, or the announced name while joining. */
  get name(): string {
    return this.membership.graph.genesis?.name ?? this.o.name ?? '';
  }

  /** The retention in force and where it came from; null until the genesis is held. */
  get retentionPolicy(): ResolvedRetention | null {
    return this.resolved;
  }

  /** Retention bookkeeping (heldFloor, last plan); null until the genesis is held. */
  get retentionInfo(): Pick<ScopeRetention, 'heldFloor' | 'lastPlan' | 'ownUnacknowledged'> | null {
    return this.retention;
  }

  /**
   * Poll answers of this scope that left out a command held without its signature, which could
   * not go in them (PROTOCOL.md §10.3 step 3a, §10.7), since the host opened.
   */
  get heldSkips(): number {
    return this.answerer.heldSkips;
  }

  /** Whether the scope still waits for its genesis from the peer it is joined from. */
  get joining(): boolean {
    return this.ingest.joining;
  }

  /** §1.8: whether this host grants the scope to the peer with `publicKey` (full key compare). */
  grants(publicKey: Uint8Array, linkTrustAdmits: boolean): boolean {
    if (this.ingest.joining) return this.o.joinFrom !== undefined && compareBytes(this.o.joinFrom, publicKey) === 0;
    return this.membership.grants(publicKey, linkTrustAdmits);
  }

  /**
   * This host's next poll of `peer` (§3.4): heads, the §4.6 sample, `window` = the command bound
   * when finite, and `elide` = true when this host takes elided signatures (option `elide`), the
   * peer announced `CompactBatch` (`compact`, default false) and no cover from it failed in an
   * answer to an `elide` poll in the last {@link ELIDE_COOLDOWN_S} s (C4); else `elide` is absent.
   */
  request(peer: string, o: { scope?: number; session?: number; maxBytes: number; compact?: boolean }): PollRequest {
    const st = this.requester(peer);
    const heads = withLastOfAnswer(headsOf(this.store), st.lastOfAnswer, this.store);
    const sample = sampleV2(this.store, { heads, responderHeads: st.responderHeads, pending: [...st.unwanted, ...st.pending.ids()] });
    // Before the genesis only the config can bound the scope (by its announced name): a joining
    // bounded host then asks for its window from the first poll instead of fetching everything.
    const n = (this.resolved ?? resolveRetention(this.o.retention, this.name, NO_GENESIS_RETENTION)).limits.commands;
    const req: PollRequest = { type: 'PollRequest', scope: o.scope ?? 0, session: o.session ?? 0, max_bytes: o.maxBytes, heads, sample, window: Number.isFinite(n) ? Math.min(n, 0xffff_ffff) : 0 };
    st.elideAsked = this.o.elide === true && o.compact === true && this.nowS() >= st.elideOffUntilS;
    if (st.elideAsked) req.elide = true;
    return req;
  }

  /** C4: a cover from `peer` failed; if this host's poll asked it for `elide`, stop asking for a while. */
  private badCover(peer: string): void {
    const st = this.requesters.get(peer);
    if (st !== undefined && st.elideAsked) st.elideOffUntilS = this.nowS() + ELIDE_COOLDOWN_S;
  }

  /**
   * Answer `peer`'s poll (§4.5) and raise `heldFloor` from it (§4.2).
   * @throws SyncwireError('NotAMember') when the scope is not granted to the peer.
   */
  answer(peer: PeerRef, req: PollRequest, o: Partial<AnswerOptions> = {}): PollResponse {
    return this.finishAnswer(this.beginAnswer(peer, req), o).response;
  }

  /**
   * {@link answer} in two steps, for the engine's poll queue (§13.2): begin `peer`'s poll, O(ids in
   * the request); the job says whether it continues the previous answer (never refused, free) and
   * its walk is advanced in chunks by the caller.
   * @throws SyncwireError('NotAMember') when the scope is not granted to the peer.
   */
  beginAnswer(peer: PeerRef, req: PollRequest): PollJobV2 {
    if (!this.grants(peer.publicKey, peer.trusted)) throw new SyncwireError('NotAMember', `scope ${this.name} is not granted to ${peer.id}`);
    return this.answerer.begin(peer.id, req);
  }

  /** Build the answer of a job from {@link beginAnswer} (its walk completed if needed) and raise `heldFloor` (§4.2). */
  finishAnswer(job: PollJobV2, o: Partial<AnswerOptions> = {}): FinishedAnswer {
    const a = this.answerer.finish(job, { scope: o.scope ?? job.req.scope, nextPollMs: o.nextPollMs ?? 1000, ...(o.frameLimit === undefined ? {} : { frameLimit: o.frameLimit }), compact: o.compact === true });
    this.retention?.raiseHeldFloor(a.heldFloor);
    return { response: a.response, lastCommand: a.lastCommand };
  }

  /**
   * Take `peer`'s answer to this host's poll (§4.6); then run retention. Never throws for bad items.
   * The result echoes the answer's `more` and `total` (when given) for the engine's `poll-answer` event.
   */
  async accept(peer: PeerRef, res: Pick<PollResponse, 'items' | 'gap' | 'more' | 'heads' | 'batch'> & Partial<Pick<PollResponse, 'total'>>): Promise<AcceptResult> {
    if (!this.grants(peer.publicKey, peer.trusted)) return { ...EMPTY_RESULT(), malformed: 0, gap: null, refused: 'NotAMember' };
    const st = this.requester(peer.id);
    const { items, malformed } = classifyItems(res.items);
    const records = items.flatMap((i) => (i.kind === 'record' ? [i.record] : []));
    for (const r of records) st.pending.offer(this.store, r);
    await this.ingest.idle(); // the marker must precede this answer's commands, not an earlier batch's
    const gap = st.pending.gapMarker(this.store, res.gap, records);
    if (gap !== null) {
      this.store.appendGap(gap);
      this.o.events?.gap?.(this, gap, peer.id);
    }
    const cmds = items.flatMap((i) => (i.kind === 'command' ? [i.bytes] : []));
    const batch = res.batch ?? undefined; // a compact batch's commands come after the items (PROTOCOL.md §10.7)
    const r = cmds.length > 0 || batch !== undefined ? await this.ingest.receive(cmds, peer.id, 'poll', (id) => st.pending.get(id), batch) : EMPTY_RESULT();
    let bytes = 0;
    for (const h of r.appended) bytes += this.store.lengthOf(h); // before retention may prune them
    st.responderHeads = res.heads.map((h) => h.slice());
    st.lastOfAnswer = res.more && r.lastId !== undefined ? r.lastId : null;
    if (!res.more) st.unwanted = this.unwantedHeads(st, res.heads, cmds);
    if (!res.more) st.pending.endRound();
    const behind = !res.more && this.lacksHeads(st, res.heads);
    await this.retain();
    return { ...r, malformed, gap, more: res.more, bytes, ...(res.total === undefined ? {} : { total: res.total }), ...(behind ? { behind } : {}) };
  }

  /**
   * Commit a local command (default data) on the scope's heads, then run retention.
   * @throws RetentionFullError for data when the own commands no peer holds already number
   *   the command bound; and what {@link ScopeIngest.commit} throws.
   */
  async commit(payload: Uint8Array, kind: typeof CommandKind.Data | typeof CommandKind.Membership = CommandKind.Data): Promise<{ handle: number; id: Uint8Array }> {
    const r = this.retentionState();
    if (kind === CommandKind.Data && r !== null && Number.isFinite(r.limits.commands)) {
      await this.ingest.idle();
      const own = r.ownUnacknowledged();
      if (own >= r.limits.commands) throw new RetentionFullError(this.name, own, r.limits.commands);
    }
    const c = await this.ingest.commit(this.o.identity, kind, payload);
    await this.retain();
    return { handle: c.handle, id: c.cmd.id };
  }

  /**
   * Run retention (§4.2) after the batches placed so far, serialised with other runs. Calls made
   * while a run waits to start share it: at most one runs and one waits, so callers that retain
   * after every push cannot queue runs faster than each drains the ingest queue (a poll answer's
   * `accept` would wait behind all of them). Null: nothing to do.
   */
  retain(): Promise<RetentionPlan<Uint8Array[]> | null> {
    if (this.waitingRun !== null) return this.waitingRun;
    const run = this.chain.then(async () => {
      this.waitingRun = null; // started: a later call needs a later run
      await this.ingest.idle();
      const r = this.retentionState();
      return r === null || this.closed ? null : r.run();
    });
    this.waitingRun = run;
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** The peer's round is over or its link closed: its pending records and cursor are dropped. */
  forget(peer: string): void {
    this.requesters.delete(peer);
    this.answerer.forget(peer);
  }

  /** Stop the tick, wait for the batches in flight, close the store. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    this.cancelTick?.();
    this.cancelTick = null;
    await this.ingest.idle();
    await this.chain;
    await this.store.close();
  }

  /**
   * A responder's head that this host pruned (a head left behind there by a window cut: its
   * children never reached it) is in every M it computes for this host, so it would be resent on
   * every poll; naming it in the sample puts it in K. Only heads carried in the finished round
   * and neither placed nor waiting as orphans are named (one that did not fit is never named): a
   * command pruned here, or one refused here, which an honest responder (having accepted it)
   * never sends and a dishonest one could withhold anyway.
   */
  private unwantedHeads(st: RequesterState, heads: readonly Uint8Array[], carried: readonly Uint8Array[]): Uint8Array[] {
    const lacking = new Set(heads.filter((id) => this.lacks(id)).map(toHex));
    for (const id of st.unwanted) if (lacking.has(toHex(id))) lacking.add(`kept:${toHex(id)}`);
    if (lacking.size === 0) return [];
    const out = st.unwanted.filter((id) => lacking.has(toHex(id)));
    const scopeHex = toHex(this.id);
    for (const bytes of carried) {
      let cmd: CommandV2;
      try {
        cmd = decodeCommandV2(this.id, bytes);
      } catch {
        continue;
      }
      const hex = toHex(cmd.id);
      if (lacking.has(hex) && !lacking.has(`kept:${hex}`) && !this.ingest.orphans.has(scopeHex, cmd)) out.push(cmd.id.slice());
    }
    return out.slice(-MAX_UNWANTED);
  }

  /** Whether `heads` name a command this host lacks that is not among `st.unwanted` (not carried). */
  private lacksHeads(st: RequesterState, heads: readonly Uint8Array[]): boolean {
    const lacking = heads.filter((id) => this.lacks(id));
    if (lacking.length === 0) return false;
    const unwanted = new Set(st.unwanted.map(toHex));
    return lacking.some((id) => !unwanted.has(toHex(id)));
  }

  /** Neither held here nor in the horizon. */
  private lacks(id: Uint8Array): boolean {
    return this.store.indexOf(id) < 0 && this.store.horizonEntry(id) === undefined;
  }

  private requester(peer: string): RequesterState {
    let st = this.requesters.get(peer);
    if (st === undefined) this.requesters.set(peer, (st = { pending: new PendingRecords(), responderHeads: [], unwanted: [], elideAsked: false, elideOffUntilS: 0, lastOfAnswer: null }));
    return st;
  }

  /** Retention is resolved once, when the genesis is first held (config, then genesis, §4.1). */
  private retentionState(): ScopeRetention | null {
    if (this.retention !== null) return this.retention;
    const g = this.membership.graph.genesis;
    if (g === undefined) return null;
    this.resolved = resolveRetention(this.o.retention, g.name, g.retention);
    this.retention = new ScopeRetention({
      store: this.store, membership: this.membership, limits: this.resolved.limits, ownAuthor: this.o.identity.author, nowS: this.nowS,
      ...(this.o.horizonTarget === undefined ? {} : { horizonTarget: this.o.horizonTarget }),
    });
    return this.retention;
  }

  private arm(): void {
    const s = this.o.scheduler;
    if (s === undefined || this.closed) return;
    this.cancelTick = s.after(this.o.tickMs ?? RETENTION_TICK_MS, () => {
      this.retain().catch((err: unknown) => this.o.events?.error?.(this, err));
      this.arm();
    });
  }
}

/**
 * §10.2: while a round lasts, the last command of the newest answer is among the poll's heads
 * (replacing the last when the list is full), when this host holds it — also when it was a
 * duplicate, which is no head: otherwise the responder, not seeing where its answer stopped,
 * walks again and sends the same answer.
 */
function withLastOfAnswer(heads: Uint8Array[], last: Uint8Array | null, store: ScopeStore): Uint8Array[] {
  if (last === null || store.indexOf(last) < 0 || heads.some((h) => equalBytes(h, last))) return heads;
  return [...heads.slice(0, MAX_HEADS - 1), last.slice()];
}

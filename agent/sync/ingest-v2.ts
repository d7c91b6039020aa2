/**
 * One scope's acceptance pipeline (docs/design/v2-scopes.md §2.3, §4.4, §4.6), the only path by
 * which v2 commands reach a scope store, received or committed here. In order: decode with the
 * scope id; duplicates dropped before any crypto; parents resolvable (held, horizon, a pending
 * record of the caller's (link, scope), or a command of the same batch) else the command waits
 * unverified in the orphan buffer; F(c) computable and ≤ 16, then the author's role
 * ({@link MembershipGraph.check}); then the signature on the thread pool; then the append,
 * serialised across batches; then membership and the caller's re-evaluation hook.
 *
 * A batch is placed in waves so that signatures still verify in parallel: every command whose
 * parents are held, or are data commands judged earlier in the same wave, is judged and verified
 * together; children of a membership command of the batch wait for the next wave (their F needs
 * it in the graph). Verdicts are by causal past only, so a wave's members never affect each
 * other's verdicts; a child of a command that then fails verification becomes an orphan, as in v1.
 */
import { decodeCommandV2, encodeCommandV2, verifyCommandV2Async, type CommandV2 } from '../../protocol/command-v2.js';
import { compareBytes } from '../../protocol/command.js';
import { CommandKind, Role } from '../../protocol/constants-v2.js';
import { MalformedError, NotPermittedError, SyncwireError, type ReasonName } from '../../protocol/errors.js';
import { decodeGenesisBody } from '../../protocol/genesis.js';
import { toHex, type Identity } from '../../protocol/keys.js';
import type { Frontier, ParentFacts } from '../../protocol/membership.js';
import type { HorizonEntry, ScopeStore } from '../store/scope-store-contract.js';
import type { Delivery } from './ingest.js';
import { OrphanBufferV2 } from './orphans-v2.js';
import type { PendingRecords, ScopeMembership } from './scope-membership.js';

/** What one batch (or commit) did. */
export interface IngestV2Result {
  /** Handles appended (released orphans included), in append order. */
  appended: number[];
  /** Of those, the membership commands (genesis included). */
  membership: number[];
  /** Commands already held, pruned here, or already waiting. */
  duplicates: number;
  /** Commands parked because a parent is unresolvable. */
  orphaned: number;
  /** Rejections by reason. */
  rejected: Partial<Record<ReasonName, number>>;
  /** Set when this scope was being joined and the batch did not start with its genesis (§1.9). */
  joinRefused?: { reason: ReasonName; detail: string };
}

/** Counters since start. */
export interface IngestV2Stats {
  received: number;
  appended: number;
  duplicates: number;
  orphaned: number;
  rejected: Partial<Record<ReasonName, number>>;
}

/** What a host joining a scope expects of its first command (§1.9). */
export interface JoinExpectation {
  /** The name the scope was announced under. */
  name: string;
  /** This host's public key, which the genesis must grant R (unless the scope is open-read). */
  publicKey: Uint8Array;
}

/** Options of {@link ScopeIngest}. */
export interface ScopeIngestOptions {
  store: ScopeStore;
  membership: ScopeMembership;
  /** The host's orphan buffer, shared by all its scopes (bounds over all scopes). Default: a private one. */
  orphans?: OrphanBufferV2;
  /** After each batch or commit with the appended handles, the peer (`'local'` for a commit) and how. */
  onAppended?: (handles: number[], from: string, how: Delivery) => void;
  /** After a batch or commit that appended membership commands: re-evaluate grants (§1.8, §3.10). */
  onMembershipChanged?: (handles: number[]) => void;
  /** Set for a scope joined and not held yet: its first command must be its genesis (§1.9). */
  join?: JoinExpectation;
}

/**
 * The join rule of §1.9 for the first command received for an empty joined scope: a genesis
 * whose id is the scope id, with the announced name, granting `expect.publicKey` R or open-read.
 * Its signature is checked by the pipeline like any other. Returns why not, or undefined.
 */
export function joinRefusal(first: CommandV2 | undefined, scopeId: Uint8Array, expect: JoinExpectation): { reason: ReasonName; detail: string } | undefined {
  if (first === undefined) return { reason: 'Malformed', detail: 'the first command does not decode' };
  if (first.kind !== CommandKind.Genesis) return { reason: 'NotPermitted', detail: 'the first command is not a genesis' };
  if (compareBytes(first.id, scopeId) !== 0) return { reason: 'NotPermitted', detail: 'the genesis id is not the announced scope id' };
  try {
    const body = decodeGenesisBody(first.payload);
    if (body.name !== expect.name) return { reason: 'NotPermitted', detail: `the genesis names ${body.name}, announced ${expect.name}` };
    const me = body.members.find((m) => compareBytes(m.publicKey, expect.publicKey) === 0);
    if ((body.flags & 1) === 0 && ((me?.roles ?? 0) & Role.Read) === 0) return { reason: 'NotAMember', detail: 'the genesis grants this host no R' };
  } catch (err) {
    if (err instanceof SyncwireError) return { reason: err.reason, detail: err.message };
    throw err;
  }
  return undefined;
}

/** What a local commit needs of the author's identity. */
export type Signer = Pick<Identity, 'publicKey' | 'author' | 'sign'>;

interface Item {
  cmd: CommandV2;
  from: string;
}
interface Judged extends Item {
  frontier: Frontier;
  records: HorizonEntry[];
  key: Uint8Array;
}

/** The acceptance pipeline of one scope. Appends are serialised; verification is not. */
export class ScopeIngest {
  readonly stats: IngestV2Stats = { received: 0, appended: 0, duplicates: 0, orphaned: 0, rejected: {} };
  readonly orphans: OrphanBufferV2;
  private readonly store: ScopeStore;
  private readonly m: ScopeMembership;
  private readonly scopeHex: string;
  private tail: Promise<unknown> = Promise.resolve();
  /** The join expectation until the first batch; 'refused' (for good) once a join failed. */
  private join: JoinExpectation | { refused: { reason: ReasonName; detail: string } } | undefined;
  private readonly seqs = new Map<string, number>();

  constructor(private readonly o: ScopeIngestOptions) {
    this.store = o.store;
    this.m = o.membership;
    this.orphans = o.orphans ?? new OrphanBufferV2();
    this.scopeHex = toHex(o.store.scopeId);
    this.join = o.store.size === 0 ? o.join : undefined;
  }

  /** Whether the scope still waits for its genesis as first command (§1.9). */
  get joining(): boolean {
    return this.join !== undefined && !('refused' in this.join);
  }

  /**
   * Check and store encoded commands received from `from` by `how`. `pending`: the pending
   * horizon records of this (link, scope) (§4.6); a record a placed command names is adopted.
   * Never throws for bad input (store failures reject the promise).
   */
  receive(encoded: readonly Uint8Array[], from: string, how: Delivery, pending?: PendingRecords): Promise<IngestV2Result> {
    const result: IngestV2Result = { appended: [], membership: [], duplicates: 0, orphaned: 0, rejected: {} };
    this.stats.received += encoded.length;
    const items: Item[] = [];
    let first: CommandV2 | undefined;
    encoded.forEach((bytes, i) => {
      try {
        const cmd = decodeCommandV2(this.store.scopeId, bytes);
        if (i === 0) first = cmd;
        items.push({ cmd, from });
      } catch (err) {
        this.reject(result, err instanceof SyncwireError ? err.reason : 'Malformed');
      }
    });
    const join = this.join;
    if (join !== undefined && 'refused' in join) return Promise.resolve({ ...result, joinRefused: join.refused });
    if (join !== undefined && encoded.length > 0) {
      this.join = undefined;
      const refused = joinRefusal(first, this.store.scopeId, join);
      if (refused !== undefined) {
        this.join = { refused };
        return Promise.resolve({ ...result, joinRefused: refused });
      }
    }
    const run = this.tail.then(async () => {
      await this.run(items, from, pending, result);
      if (join !== undefined && this.store.size === 0) {
        const reason = (Object.keys(result.rejected)[0] as ReasonName | undefined) ?? 'Malformed';
        result.joinRefused = { reason, detail: 'the genesis was not accepted' };
        this.join = { refused: result.joinRefused };
      }
      this.notify(result, from, how);
      return result;
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Wait until every batch and commit so far is placed. */
  idle(): Promise<void> {
    return this.tail.then(() => undefined);
  }

  /**
   * Create, sign and store a local command (kind 0 data or 2 membership) on `parents` (default:
   * the scope's heads, at most 16, the newest), refusing what a peer would refuse: the author's
   * role at the command's F (W for data, A and §1.5 for membership), F ≤ 16, size ≤ 1,024.
   * @throws NotPermittedError, SyncwireError('UnknownAuthor' | 'UnknownParent'), MalformedError,
   *   TooLargeError; store write errors from `appendWritten`.
   */
  commit(author: Signer, kind: typeof CommandKind.Data | typeof CommandKind.Membership, payload: Uint8Array, parents?: readonly Uint8Array[]): Promise<{ cmd: CommandV2; handle: number }> {
    const run = this.tail.then(() => {
      const ps = parents ?? this.store.heads().slice(-16).map((h) => this.store.idOf(h).slice());
      if (ps.length === 0) throw new NotPermittedError('the scope holds no genesis to build on');
      const fr = this.m.frontierForParents(this.store, ps);
      if (!fr.ok) throw new SyncwireError('UnknownParent', `commit names ${fr.missing.length} parent(s) or membership commands not held`);
      const v = this.m.graph.check({ id: this.store.scopeId, kind, author: author.author, frontier: fr.frontier, payload });
      if (!v.ok) throw v.reason === 'Malformed' ? new MalformedError(v.detail) : v.reason === 'NotPermitted' ? new NotPermittedError(v.detail) : new SyncwireError(v.reason, v.detail);
      if (compareBytes(v.key, author.publicKey) !== 0) throw new NotPermittedError('the author fingerprint names another member key');
      const seq = this.nextSeq(author.author);
      const cmd = encodeCommandV2(this.store.scopeId, { parents: [...ps], author: author.author, seq, kind, payload }, (msg) => author.sign(msg));
      const handle = this.store.appendWritten(cmd, { frontier: this.m.refOf(fr.frontier) });
      const result: IngestV2Result = { appended: [handle], membership: [], duplicates: 0, orphaned: 0, rejected: {} };
      this.stats.appended++;
      this.seqs.set(toHex(author.author), seq);
      if (kind === CommandKind.Membership) {
        this.m.add(cmd, fr.frontier);
        result.membership.push(handle);
      }
      this.notify(result, 'local', 'commit');
      return { cmd, handle };
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  private notify(r: IngestV2Result, from: string, how: Delivery): void {
    if (r.appended.length > 0) this.o.onAppended?.(r.appended, from, how);
    if (r.membership.length > 0) this.o.onMembershipChanged?.(r.membership);
  }

  private nextSeq(author: Uint8Array): number {
    const k = toHex(author);
    let top = this.seqs.get(k);
    if (top === undefined) {
      top = 0;
      for (let h = this.store.base; h < this.store.size; h++) {
        const a = this.store.authorOf(h);
        if (compareBytes(a.author, author) === 0) top = Math.max(top, a.seq);
      }
    }
    return top + 1;
  }

  private reject(r: IngestV2Result, reason: ReasonName): void {
    r.rejected[reason] = (r.rejected[reason] ?? 0) + 1;
    this.stats.rejected[reason] = (this.stats.rejected[reason] ?? 0) + 1;
  }

  private duplicate(r: IngestV2Result): void {
    r.duplicates++;
    this.stats.duplicates++;
  }

  private orphan(r: IngestV2Result, it: Item, missing: readonly Uint8Array[]): void {
    this.orphans.add(this.scopeHex, it.cmd, it.from, missing);
    r.orphaned++;
    this.stats.orphaned++;
  }

  /** Held here, pruned here (a horizon entry: never taken back) or already waiting. */
  private known(cmd: CommandV2): boolean {
    return this.store.indexOf(cmd.id) >= 0 || this.store.horizonEntry(cmd.id) !== undefined || this.orphans.has(this.scopeHex, cmd);
  }

  private async run(items: Item[], from: string, pending: PendingRecords | undefined, r: IngestV2Result): Promise<void> {
    let list = items;
    while (list.length > 0) {
      const remaining = new Map<string, number>();
      const todo: Item[] = [];
      const seen = new Set<string>();
      for (const it of list) {
        const exact = `${toHex(it.cmd.id)}:${toHex(it.cmd.signature)}`;
        if (seen.has(exact) || this.known(it.cmd)) {
          this.duplicate(r);
          continue;
        }
        seen.add(exact);
        todo.push(it);
        const k = toHex(it.cmd.id);
        remaining.set(k, (remaining.get(k) ?? 0) + 1);
      }
      const done = (id: Uint8Array): void => {
        const k = toHex(id);
        const n = (remaining.get(k) ?? 1) - 1;
        if (n <= 0) remaining.delete(k);
        else remaining.set(k, n);
      };
      const wave: Judged[] = [];
      const next: Item[] = [];
      const virtual = new Map<string, ParentFacts>();
      const extra = (id: Uint8Array): ParentFacts | undefined => virtual.get(toHex(id));
      for (const it of todo) {
        const c = it.cmd;
        if (c.parents.some((p) => remaining.has(toHex(p)) && !virtual.has(toHex(p)))) {
          next.push(it); // a parent of this batch is not judged yet, or is a membership command
          continue;
        }
        const fr = this.m.frontierForParents(this.store, c.parents, extra, it.from === from ? pending : undefined);
        if (!fr.ok) {
          this.orphan(r, it, fr.missing);
          done(c.id);
          continue;
        }
        const v = this.m.graph.check({ id: c.id, kind: c.kind, author: c.author, frontier: fr.frontier, payload: c.payload });
        if (!v.ok) {
          this.reject(r, v.reason);
          done(c.id);
          continue;
        }
        wave.push({ ...it, frontier: fr.frontier, records: fr.records, key: v.key });
        if (c.kind === CommandKind.Data) virtual.set(toHex(c.id), { id: c.id, membership: false, frontier: this.m.graph.idsOf(fr.frontier) });
      }
      const ok = await Promise.all(wave.map((j) => verifyCommandV2Async(j.cmd, j.key)));
      for (let i = 0; i < wave.length; i++) {
        const j = wave[i]!;
        if (ok[i] !== true) this.reject(r, 'BadSignature');
        else await this.place(j, r, next);
      }
      list = next;
    }
  }

  /** Append one judged and verified command; its released orphans join `next`. */
  private async place(j: Judged, r: IngestV2Result, next: Item[]): Promise<void> {
    const c = j.cmd;
    if (this.store.indexOf(c.id) >= 0) return this.duplicate(r);
    const recs = new Map(j.records.map((e) => [toHex(e.id), e]));
    const lost = c.parents.filter((p) => this.store.indexOf(p) < 0 && this.store.horizonEntry(p) === undefined && !recs.has(toHex(p)));
    if (lost.length > 0) return this.orphan(r, j, lost); // a parent of the batch failed its own checks
    const adopt = c.parents.map((p) => recs.get(toHex(p))).filter((e): e is HorizonEntry => e !== undefined && this.store.horizonEntry(e.id) === undefined);
    if (adopt.length > 0) await this.store.adopt(adopt);
    const h = this.store.append(c, { frontier: this.m.refOf(j.frontier) });
    if (h < 0) return this.duplicate(r);
    r.appended.push(h);
    this.stats.appended++;
    const a = toHex(c.author);
    const top = this.seqs.get(a);
    if (top !== undefined && c.seq > top) this.seqs.set(a, c.seq);
    if (c.kind !== CommandKind.Data) {
      this.m.add(c, j.frontier);
      r.membership.push(h);
    }
    for (const o of this.orphans.release(this.scopeHex, c.id)) next.push({ cmd: o.cmd, from: o.from });
  }
}

/**
 * One scope's acceptance pipeline (docs/design/v2-scopes.md §2.3, §4.4, §4.6), the only path by
 * which v2 commands reach a scope store, received or committed here. In order: decode with the
 * scope id; duplicates dropped before any crypto; parents resolvable (held, horizon, a pending
 * record of the caller's (link, scope), or a command of the same batch) else the command waits
 * unverified in the orphan buffer (a waiting orphan is judged again when a later batch's pending
 * records resolve a parent it lacks, or when a parent arrives, even one this store pruned and does
 * not take back); F(c) computable and ≤ 16, then the author's role
 * ({@link MembershipGraph.check}); then the signature on the thread pool; then the append,
 * serialised across batches; then membership and the caller's re-evaluation hook.
 *
 * This file decodes, applies the join rule (scope-join.ts), serialises batches and commits and
 * calls the hooks; a batch is placed in waves by ingest-rounds.ts, a local command is made by
 * scope-commit.ts.
 */
import { decodeCommandV2, type CommandV2 } from '../../protocol/command-v2.js';
import type { CommandKind } from '../../protocol/constants-v2.js';
import { SyncwireError, type ReasonName } from '../../protocol/errors.js';
import type { ScopeStore } from '../store/scope-store-contract.js';
import type { Delivery } from './ingest.js';
import { IngestRounds, type Item } from './ingest-rounds.js';
import type { IngestV2Result, IngestV2Stats, ScopeIngestOptions } from './ingest-v2-types.js';
import { takeBatch } from './ingest-v2-batch.js';
import { OrphanBufferV2 } from './orphans-v2.js';
import { commitLocal, type CommitContext, type Signer } from './scope-commit.js';
import { joinRefusal, type JoinExpectation } from './scope-join.js';
import type { PendingRecords, ScopeMembership } from './scope-membership.js';
import { TurnSlice } from './turn-slice.js';

export type { IngestV2Result, IngestV2Stats, ScopeIngestOptions } from './ingest-v2-types.js';
export type { Signer } from './scope-commit.js';
export { joinRefusal, type JoinExpectation } from './scope-join.js';

/** The acceptance pipeline of one scope. Appends are serialised; verification is not. */
export class ScopeIngest {
  readonly stats: IngestV2Stats = { received: 0, appended: 0, duplicates: 0, orphaned: 0, rejected: {}, batches: { received: 0, commands: 0, verified: 0, coveredSkips: 0, selfChecked: 0, uncovered: 0 } };
  readonly orphans: OrphanBufferV2;
  private readonly store: ScopeStore;
  private readonly m: ScopeMembership;
  private tail: Promise<unknown> = Promise.resolve();
  /** The join expectation until the first batch; 'refused' (for good) once a join failed. */
  private join: JoinExpectation | { refused: { reason: ReasonName; detail: string } } | undefined;
  private readonly seqs = new Map<string, number>();
  private readonly commitCtx: CommitContext;
  private readonly rounds: IngestRounds;
  /** Batches that need no I/O (duplicates, rejects) run as one chain of continuations: yield between them. */
  private readonly slice = new TurnSlice();

  constructor(private readonly o: ScopeIngestOptions) {
    this.store = o.store;
    this.m = o.membership;
    this.orphans = o.orphans ?? new OrphanBufferV2();
    this.commitCtx = { store: this.store, membership: this.m, stats: this.stats, seqs: this.seqs };
    this.rounds = new IngestRounds(this.store, this.m, this.orphans, this.stats, this.seqs);
    this.join = o.store.size === 0 ? o.join : undefined;
  }

  /** Whether the scope still waits for its genesis as first command (§1.9). */
  get joining(): boolean {
    return this.join !== undefined && !('refused' in this.join);
  }

  /**
   * Check and store encoded commands received from `from` by `how`, then the commands of the
   * compact `batch` if any (PROTOCOL.md §10.7: they come after every item). `pending`: the
   * pending horizon records of this (link, scope) (§4.6); a record a placed command names is
   * adopted. Never throws for bad input (store failures reject the promise).
   */
  receive(encoded: readonly Uint8Array[], from: string, how: Delivery, pending?: PendingRecords, batch?: Uint8Array): Promise<IngestV2Result> {
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
        this.rounds.reject(result, err instanceof SyncwireError ? err.reason : 'Malformed');
      }
    });
    const run = this.tail.then(async () => {
      await this.slice.pause();
      // Covers are verified under the membership as of the batches placed before this one.
      if (batch !== undefined) await this.takeBatch(batch, from, items, result);
      const last = items[items.length - 1];
      if (last !== undefined) result.lastId = last.cmd.id;
      const join = this.join;
      if (join !== undefined && 'refused' in join) return { ...result, joinRefused: join.refused };
      // The first command of the message: its first item, else (no item) the batch's first.
      const head = encoded.length > 0 ? first : items[0]?.cmd;
      if (join !== undefined && (encoded.length > 0 || items.length > 0)) {
        this.join = undefined;
        const refused = joinRefusal(head, this.store.scopeId, join);
        if (refused !== undefined) {
          this.join = { refused };
          return { ...result, joinRefused: refused };
        }
      }
      await this.rounds.run(items, from, pending, result);
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

  /** Decode and authenticate a compact batch by cover; its commands join `items` (ingest-v2-batch.ts). */
  private async takeBatch(bytes: Uint8Array, from: string, items: Item[], result: IngestV2Result): Promise<void> {
    const b = await takeBatch(this.store.scopeId, this.m.graph, bytes, from, this.o.batchVerify ?? 'covers', this.o.elide === true);
    const st = this.stats.batches;
    st.received++;
    st.verified += b.verified;
    st.coveredSkips += b.coveredSkips;
    st.selfChecked += b.selfChecked;
    st.commands += b.items.length + b.uncovered + (b.rejected.BadSignature ?? 0);
    st.uncovered += b.uncovered;
    this.stats.received += b.items.length;
    for (const [reason, n] of Object.entries(b.rejected) as [ReasonName, number][]) for (let i = 0; i < n; i++) this.rounds.reject(result, reason);
    if (b.uncovered > 0) result.uncovered = (result.uncovered ?? 0) + b.uncovered;
    if ((b.rejected.BadSignature ?? 0) > 0) this.o.onBadCover?.(from);
    items.push(...b.items);
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
      const { cmd, handle, result } = commitLocal(this.commitCtx, author, kind, payload, parents);
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
}

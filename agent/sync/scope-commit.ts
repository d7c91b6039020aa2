/**
 * The local commit path of one scope (docs/design/v2-scopes.md §2.3): create, sign and store a
 * command authored here, refusing what a peer would refuse. `ScopeIngest.commit` (ingest-v2.ts)
 * runs it in its append queue and reports the result like a received batch's.
 */
import { encodeCommandV2, type CommandV2 } from '../../protocol/command-v2.js';
import { compareBytes } from '../../protocol/command.js';
import { CommandKind } from '../../protocol/constants-v2.js';
import { MalformedError, NotPermittedError, SyncwireError } from '../../protocol/errors.js';
import { toHex, type Identity } from '../../protocol/keys.js';
import type { ScopeStore } from '../store/scope-store-contract.js';
import type { IngestV2Result, IngestV2Stats } from './ingest-v2-types.js';
import type { ScopeMembership } from './scope-membership.js';

/** What a local commit needs of the author's identity. */
export type Signer = Pick<Identity, 'publicKey' | 'author' | 'sign'>;

/** What the commit path reads and updates of its `ScopeIngest`. @internal */
export interface CommitContext {
  readonly store: ScopeStore;
  readonly membership: ScopeMembership;
  readonly stats: IngestV2Stats;
  /** Highest `seq` known per author (hex), filled on first use; the receive path raises it too. */
  readonly seqs: Map<string, number>;
}

/**
 * The next `seq` for `author`: one above the highest it used among the commands at or above the
 * store's base and among those pruned (the store keeps that across restarts, design §11.3), or the
 * highest known since; 1 for a first command.
 */
export function nextSeq(ctx: CommitContext, author: Uint8Array): number {
  const k = toHex(author);
  let top = ctx.seqs.get(k);
  if (top === undefined) {
    top = ctx.store.prunedSeq(author);
    for (let h = ctx.store.base; h < ctx.store.size; h++) {
      const a = ctx.store.authorOf(h);
      if (compareBytes(a.author, author) === 0) top = Math.max(top, a.seq);
    }
  }
  return top + 1;
}

/**
 * Create, sign and store a local command (kind 0 data or 2 membership) on `parents` (default:
 * the scope's heads, at most 16, the newest), refusing what a peer would refuse: the author's
 * role at the command's F (W for data, A and §1.5 for membership), F ≤ 16, size ≤ 1,024. Not
 * serialised by itself: the caller runs it after every earlier append, and notifies.
 * @throws NotPermittedError, SyncwireError('UnknownAuthor' | 'UnknownParent'), MalformedError,
 *   TooLargeError; store write errors from `appendWritten`.
 */
export function commitLocal(
  ctx: CommitContext,
  author: Signer,
  kind: typeof CommandKind.Data | typeof CommandKind.Membership,
  payload: Uint8Array,
  parents?: readonly Uint8Array[],
): { cmd: CommandV2; handle: number; result: IngestV2Result } {
  const ps = parents ?? ctx.store.heads().slice(-16).map((h) => ctx.store.idOf(h).slice());
  if (ps.length === 0) throw new NotPermittedError('the scope holds no genesis to build on');
  const fr = ctx.membership.frontierForParents(ctx.store, ps);
  if (!fr.ok) throw new SyncwireError('UnknownParent', `commit names ${fr.missing.length} parent(s) or membership commands not held`);
  const v = ctx.membership.graph.check({ id: ctx.store.scopeId, kind, author: author.author, frontier: fr.frontier, payload });
  if (!v.ok) throw v.reason === 'Malformed' ? new MalformedError(v.detail) : v.reason === 'NotPermitted' ? new NotPermittedError(v.detail) : new SyncwireError(v.reason, v.detail);
  if (compareBytes(v.key, author.publicKey) !== 0) throw new NotPermittedError('the author fingerprint names another member key');
  const seq = nextSeq(ctx, author.author);
  const cmd = encodeCommandV2(ctx.store.scopeId, { parents: [...ps], author: author.author, seq, kind, payload }, (msg) => author.sign(msg));
  const handle = ctx.store.appendWritten(cmd, { frontier: ctx.membership.refOf(fr.frontier) });
  const result: IngestV2Result = { appended: [handle], membership: [], duplicates: 0, orphaned: 0, rejected: {} };
  ctx.stats.appended++;
  ctx.seqs.set(toHex(author.author), seq);
  if (kind === CommandKind.Membership) {
    ctx.membership.add(cmd, fr.frontier);
    result.membership.push(handle);
  }
  return { cmd, handle, result };
}

/**
 * Step 5 of the v2 poll answer (docs/design/v2-scopes.md §4.5): the item list L, the commands of
 * T with the horizon records they need placed before them, produced lazily so that a command's
 * bytes are only decoded when the budget reaches it.
 */
import { decodeStoredCommandV2, type CommandV2 } from '../../protocol/command-v2.js';
import { CommandKind } from '../../protocol/constants-v2.js';
import { encodeHorizonRecord } from '../../protocol/horizon-record.js';
import { toHex } from '../../protocol/keys.js';
import type { ScopeStoreReader } from '../store/scope-store-contract.js';
import type { FrontierIds } from './poll-answer-missing.js';

/** One element of L: a horizon record (`handle` −1) or a command, with its bytes and the id it names. */
export interface AnswerItem {
  readonly bytes: Uint8Array;
  readonly id: Uint8Array;
  readonly handle: number;
  /**
   * The decoded command (commands only): a compact batch re-encodes it without decoding again. Its
   * signature is null when this host holds it without one (PROTOCOL.md §10.7): then it may go only
   * inside a compact batch, with its cover, to a requester that set `elide`.
   */
  readonly cmd?: CommandV2;
}

/**
 * Step 5, lazily: L for `t` given the request ids `q`. Records come before the command that needs
 * them, in ascending parent id order, for parents not in T, not in Q, not membership commands, and
 * at most once each.
 *
 * `withoutHeld` (default true; PROTOCOL.md §10.3 step 3a, an answer that cannot carry a command held without
 * its signature: a plain answer, or a poll without `elide`): such commands of T are left out,
 * and so is every command of T with a parent left out, before any record is made for it.
 */
export class AnswerItems {
  private readonly inT: Set<number>;
  private readonly inQ: Set<string>;
  private readonly recorded = new Set<string>();
  private readonly queue: AnswerItem[] = [];
  private next = 0;
  /** Items taken so far (the position in L). */
  taken = 0;
  /** Commands of T left out so far (step 3a), by handle. */
  private readonly left = new Set<number>();

  constructor(
    private readonly reader: ScopeStoreReader,
    private readonly frontierIds: FrontierIds,
    readonly t: readonly number[],
    q: readonly Uint8Array[],
    readonly withoutHeld = true,
  ) {
    this.inT = new Set(t);
    this.inQ = new Set(q.map(toHex));
  }

  /** Commands of T left out so far (step 3a): those reached by {@link peek} or {@link ahead}. */
  get leftOut(): number {
    return this.left.size;
  }

  /** The next item of L, undefined at its end. */
  peek(): AnswerItem | undefined {
    return this.ahead(0);
  }

  /** The item `k` places after the next one (0: the next), undefined past the end of L; takes nothing. */
  ahead(k: number): AnswerItem | undefined {
    while (this.queue.length <= k && this.next < this.t.length) this.expand(this.t[this.next++]!);
    return this.queue[k];
  }

  /** Take the next item. */
  take(): AnswerItem | undefined {
    const item = this.peek();
    if (item !== undefined) {
      this.queue.shift();
      this.taken++;
    }
    return item;
  }

  private expand(c: number): void {
    const r = this.reader;
    const bytes = r.bytesOf(c);
    const cmd = decodeStoredCommandV2(bytes, r.idOf(c));
    if (this.withoutHeld && (cmd.signature === null || (this.left.size > 0 && cmd.parents.some((p) => this.left.has(r.indexOf(p)))))) {
      this.left.add(c);
      return;
    }
    for (const p of cmd.parents) {
      const hex = toHex(p);
      if (this.inQ.has(hex) || this.recorded.has(hex)) continue;
      const h = r.indexOf(p);
      let rec: { depth: number; frontier: readonly Uint8Array[] } | undefined;
      if (h >= 0) {
        if (this.inT.has(h) || r.kindOf(h) !== CommandKind.Data) continue;
        rec = { depth: r.depthOf(h), frontier: this.frontierIds(r.frontierOf(h)) };
      } else {
        // A retained command's parent is retained or an entry; a store that lost one gives no record
        // (the requester orphans the command and asks again) rather than failing the answer.
        rec = r.horizonEntry(p);
        if (rec === undefined) continue;
      }
      this.recorded.add(hex);
      this.queue.push({ bytes: encodeHorizonRecord({ id: p, depth: rec.depth, frontier: [...rec.frontier] }), id: p, handle: -1 });
    }
    this.queue.push({ bytes, id: cmd.id, handle: c, cmd });
  }
}

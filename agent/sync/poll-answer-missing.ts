/**
 * Steps 1–2 of the v2 poll answer (docs/design/v2-scopes.md §4.5): `K`, the request ids this host
 * knows, and `M`, the retained commands the requester lacks, over one scope's
 * {@link ScopeStoreReader}. The rest of the answer is built by `PollAnswererV2` (poll-answer-v2.ts).
 */
import { CommandKind } from '../../protocol/constants-v2.js';
import { toHex } from '../../protocol/keys.js';
import type { CommandStore } from '../store/command-store.js';
import type { ScopeStoreReader } from '../store/scope-store-contract.js';
import { MissingWalk } from './graph-walk.js';

/** The ids of the membership commands of a frontier number the store gave (`frontierOf`). */
export type FrontierIds = (frontier: number) => readonly Uint8Array[];

/** Step 1: `K`, the ids of `q` (heads then sample) this host retains or has in its horizon, first occurrence kept. */
export function knownOf(reader: ScopeStoreReader, q: readonly Uint8Array[]): Uint8Array[] {
  const seen = new Set<string>();
  const out: Uint8Array[] = [];
  for (const id of q) {
    const hex = toHex(id);
    if (seen.has(hex)) continue;
    seen.add(hex);
    if (reader.indexOf(id) >= 0 || reader.horizonEntry(id) !== undefined) out.push(id);
  }
  return out;
}

/**
 * The membership commands (handles) in the past of `ids`, each included: a retained membership
 * command itself, and for any id the closure of its frontier — `F(c)` of a retained command or a
 * horizon entry, then `F(m)` of each membership command reached. The store's parent links cannot
 * give this: below the horizon they lead through pruned commands.
 */
export function membershipPast(reader: ScopeStoreReader, frontierIds: FrontierIds, ids: readonly Uint8Array[]): Set<number> {
  const out = new Set<number>();
  const stack: number[] = [];
  const push = (f: readonly Uint8Array[]): void => {
    for (const m of f) stack.push(reader.indexOf(m));
  };
  for (const id of ids) {
    const h = reader.indexOf(id);
    if (h >= 0) {
      if (reader.kindOf(h) === CommandKind.Data) push(frontierIds(reader.frontierOf(h)));
      else stack.push(h);
    } else push(reader.horizonEntry(id)?.frontier ?? []);
  }
  for (let m = stack.pop(); m !== undefined; m = stack.pop()) {
    if (m < 0 || out.has(m)) continue;
    out.add(m);
    push(frontierIds(reader.frontierOf(m)));
  }
  return out;
}

/**
 * Step 2 in pieces: M = the retained commands that are not an ancestor-or-equal of an element of
 * K, ascending. Data commands come from v1's {@link MissingWalk} from the heads (a retained data
 * command's descendants are all retained — pruning is down-closed — so the walk reaches it, and
 * stops at horizon entries, which have no handle); membership commands, which may sit below
 * pruned ones, are those in the past of the heads and not in the past of K ({@link membershipPast}).
 */
export class MissingV2 {
  private readonly walk: MissingWalk;
  private readonly knownMembers: Set<number>;

  constructor(
    private readonly reader: ScopeStoreReader,
    private readonly frontierIds: FrontierIds,
    k: readonly Uint8Array[],
  ) {
    this.knownMembers = membershipPast(reader, frontierIds, k);
    const known = [...this.knownMembers];
    for (const id of k) if (reader.indexOf(id) >= 0) known.push(reader.indexOf(id));
    const view = { heads: () => reader.heads(), depthOf: (h: number) => reader.depthOf(h), parentsOf: (h: number) => reader.parentsOf(h) };
    // Why the cast: MissingWalk is typed over the v1 store but reads only these three, same meaning.
    this.walk = new MissingWalk(view as unknown as CommandStore, known);
  }

  /** Commands the walk has visited so far. */
  get visited(): number {
    return this.walk.visited;
  }

  /** Advance the walk by at most `steps` commands; true when done. */
  step(steps: number): boolean {
    return this.walk.step(steps);
  }

  /** M, ascending (completes the walk). */
  result(): Uint32Array {
    const r = this.reader;
    const all = new Set<number>();
    for (const h of this.walk.result()) if (r.kindOf(h) === CommandKind.Data) all.add(h);
    const heads = r.heads().map((h) => r.idOf(h));
    for (const m of membershipPast(r, this.frontierIds, heads)) if (!this.knownMembers.has(m)) all.add(m);
    return Uint32Array.from(all).sort();
  }
}

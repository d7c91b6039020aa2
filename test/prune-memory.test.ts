/**
 * A bounded scope's RAM does not grow with its pruned history (design v2 §5.3, §11.3): pruned
 * slots are freed at run time by a repack of the scope index, and scope-retention's child counts
 * are windowed the same way. Asserted on the structure only (no timings, no heap readings):
 * 25,000 commands (PRUNE_MEMORY_N for longer runs: 250 times the bound already shows any
 * growth with history) appended to a scope bounded at 100 and pruned by the real planner, on the
 * memory and the disk store, keep the index's slots and capacity, the memory store's buffer and
 * the child-count arrays O(bound), every retained command reads back right (bytes, id, depth,
 * parents, heads), and so after a reopen, which then goes on appending and pruning. A fast-check
 * property checks repackSlots field by field.
 */
import t, { type Test } from 'tap';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeCommandV2, type CommandV2 } from '../protocol/command-v2.js';
import { CommandKind } from '../protocol/constants-v2.js';
import { toHex } from '../protocol/keys.js';
import { CommandSlotIndex, repackSlots } from '../agent/store/command-slot-index.js';
import { COMPACT_MAX_COMMANDS, CompactIndex, type SlotIndex } from '../agent/store/compact-index.js';
import { MemoryScopeStore } from '../agent/store/memory-scope-store.js';
import { DiskScopeStore } from '../agent/store/scope-store.js';
import type { ScopeStore } from '../agent/store/scope-store-contract.js';
import { ScopeRetention } from '../agent/sync/scope-retention.js';
import type { ScopeMembership } from '../agent/sync/scope-membership.js';
import { randomScopeDag, syntheticCommandV2, syntheticGenesis } from '../testkit/synthetic-commands-v2.js';

const BOUND = 100;
const N = Number(process.env.PRUNE_MEMORY_N ?? 25_000);
/** What "O(bound)" means here: the brief's 4 × bound plus a constant. */
const LIMIT = 4 * BOUND + 64;
const ID = 32;

const dirs: string[] = [];
t.teardown(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** The planner reads frontiers only to put them in horizon entries; the stores take them as given. */
const noFrontiers = { frontierRef: () => 0, idsOf: () => [] } as unknown as ScopeMembership;

/**
 * The workload: a telemetry chain; a membership command every 5,000 (pinned forever below base);
 * every 50 a merge of the chain with the command 5 back (two parents); every 10,000 a side head
 * on the chain, left unmerged for 3,000 commands (pinned below base while it is a head, pruned
 * once a merge names it). Deterministic.
 */
class Workload {
  readonly g = syntheticGenesis('test/prune-memory');
  /** Id and expected depth of every handle. */
  private readonly ids = new Uint8Array((N + 4_096) * ID);
  readonly depths = new Uint32Array(N + 4_096);
  private size = 0;
  /** The chain's newest handle. */
  private prev = 0;
  private side = -1;

  constructor() {
    this.ids.set(this.g.id, 0);
    this.depths[0] = 1;
    this.size = 1;
  }

  idAt(h: number): Uint8Array {
    return this.ids.subarray(h * ID, (h + 1) * ID);
  }

  /** The next command (its handle is the number made so far). */
  next(): CommandV2 {
    const h = this.size++;
    let parents = [this.prev];
    let onChain = true;
    if (h % 10_000 === 7) {
      this.side = h;
      onChain = false; // the chain goes on from prev: this one stays a head
    } else if (this.side >= 0 && h === this.side + 3_000) {
      parents = [this.prev, this.side];
      this.side = -1;
    } else if (h % 50 === 1 && this.prev > 5) parents = [this.prev, this.prev - 5];
    parents = [...new Set(parents)];
    const kind = h % 5_000 === 0 ? CommandKind.Membership : CommandKind.Data;
    const c = syntheticCommandV2(this.g.id, parents.map((p) => this.idAt(p).slice()), h, Uint8Array.of(h & 0xff, (h >> 8) & 0xff, h >> 16), kind);
    this.ids.set(c.id, h * ID);
    this.depths[h] = 1 + Math.max(...parents.map((p) => this.depths[p]!));
    if (onChain) this.prev = h;
    return c;
  }
}

/** One store with its retention, fed by a workload. */
class Host {
  ret: ScopeRetention;
  /** Largest value seen of each structure, after every retention run. */
  readonly max = { slots: 0, capacity: 0, bytes: 0, dense: 0, low: 0, buffer: 0, pinnedData: 0 };

  constructor(readonly store: ScopeStore) {
    this.ret = this.retention();
  }

  retention(): ScopeRetention {
    return new ScopeRetention({ store: this.store, membership: noFrontiers, limits: { commands: BOUND, bytes: Infinity, ageS: Infinity }, ownAuthor: new Uint8Array(8), nowS: () => 1_700_000_000 });
  }

  async feed(c: CommandV2): Promise<void> {
    const h = this.store.append(c, { frontier: 0 });
    this.ret.appended(h);
    // Every 25 commands: each disk prune rewrites and fsyncs horizon.bin, and what lies between
    // two runs (25 commands) stays well inside the bound asserted (LIMIT).
    if (h % 25 === 0) {
      await this.ret.run();
      this.measure();
    }
  }

  measure(): void {
    const ix = stateOf(this.store).ix;
    const m = this.max;
    m.pinnedData = Math.max(m.pinnedData, stateOf(this.store).pinnedDataList().length);
    m.slots = Math.max(m.slots, ix.size);
    m.capacity = Math.max(m.capacity, ix.capacity);
    m.bytes = Math.max(m.bytes, ix.byteSize());
    const c = this.ret.childSlots;
    m.dense = Math.max(m.dense, c.dense);
    m.low = Math.max(m.low, c.low);
    if (this.store instanceof MemoryScopeStore) m.buffer = Math.max(m.buffer, this.store.bufferBytes);
  }
}

const stateOf = (s: ScopeStore): MemoryScopeStore['state'] => (s as MemoryScopeStore | DiskScopeStore).state;

/** Every retained handle reads back as the workload made it; the result lists what differs. */
function check(s: ScopeStore, w: Workload, ret: ScopeRetention): string[] {
  const bad: string[] = [];
  let retained = 0;
  const children = new Map<number, number>();
  for (let h = 0; h < s.size; h++) {
    if (!s.isRetained(h)) continue;
    retained++;
    const id = toHex(w.idAt(h));
    const cmd = decodeCommandV2(s.scopeId, s.bytesOf(h));
    if (toHex(cmd.id) !== id || toHex(s.idOf(h)) !== id || s.indexOf(w.idAt(h)) !== h) bad.push(`${h}: id`);
    if (s.depthOf(h) !== w.depths[h]) bad.push(`${h}: depth ${s.depthOf(h)}, want ${w.depths[h]}`);
    const want = cmd.parents.map((p) => s.indexOf(p)).filter((p) => p >= 0).sort((a, b) => a - b);
    if (s.parentsOf(h).sort((a, b) => a - b).join() !== want.join()) bad.push(`${h}: parents`);
    for (const p of want) children.set(p, (children.get(p) ?? 0) + 1);
  }
  // Retention counts the children appended since open, pruned ones too (a membership command
  // whose children were pruned stays no head); a retained data command's children are never
  // pruned before it (pruning is down-closed), so its count is exact.
  for (let h = 0; h < s.size; h++) {
    if (!s.isRetained(h)) continue;
    const got = ret.childCount(h);
    const want = children.get(h) ?? 0;
    if (s.kindOf(h) === CommandKind.Data ? got !== want : got < want) bad.push(`${h}: child count ${got}, want ${want}`);
  }
  // A retained command whose children were all pruned is no head: it was a head of the pruned history's past.
  for (const h of s.heads()) if (children.has(h)) bad.push(`${h}: a head with retained children`);
  if (!s.heads().includes(s.size - 1)) bad.push('the newest command is no head');
  if (retained > LIMIT) bad.push(`${retained} retained`);
  return bad.slice(0, 10);
}

/** What two stores must agree on. */
const summary = (s: ScopeStore): string =>
  JSON.stringify({ size: s.size, base: s.base, heads: s.heads(), horizon: s.horizon().map((e) => `${toHex(e.id)}:${e.depth}`).sort(), retained: Array.from({ length: s.size }, (_, h) => h).filter((h) => s.isRetained(h)) });

function assertBounded(t: Test, host: Host, what: string): void {
  const m = host.max;
  t.ok(m.slots <= LIMIT, `${what}: index slots stay O(bound) (max ${m.slots} ≤ ${LIMIT})`);
  t.ok(m.capacity <= LIMIT, `${what}: index capacity stays O(bound) (max ${m.capacity} ≤ ${LIMIT})`);
  // Both slot indexes cost under 128 B a slot with their hash tables.
  t.ok(m.bytes <= LIMIT * 128, `${what}: index bytes stay O(bound) (max ${m.bytes})`);
  t.ok(m.dense <= LIMIT, `${what}: the dense child-count array stays O(bound) (max ${m.dense})`);
  t.ok(m.low <= LIMIT, `${what}: the child counts below it stay O(bound) (max ${m.low})`);
  if (host.store instanceof MemoryScopeStore) t.ok(m.buffer <= LIMIT * 256, `${what}: the encodings buffer stays O(bound) (max ${m.buffer} B)`);
}

t.test(`${N.toLocaleString('en')} commands pruned to ${BOUND}: memory and disk stay O(bound), read back right, and after reopen`, async (t) => {
  const w = new Workload();
  const dir = mkdtempSync(join(tmpdir(), 'syncwire-prune-memory-'));
  dirs.push(dir);
  const open = (): Promise<DiskScopeStore> => DiskScopeStore.open(dir, { scopeId: w.g.id, durability: { mode: 'none' }, byteBound: 8_192, hooks: { frontier: () => 0 } });
  const mem = new Host(new MemoryScopeStore(w.g.id));
  const disk = new Host(await open());
  for (const host of [mem, disk]) host.store.append(w.g, { frontier: 0 });
  for (let i = 1; i < N; i++) {
    const c = w.next();
    await mem.feed(c);
    await disk.feed(c);
  }
  t.equal(mem.store.size, N);
  t.ok(mem.store.base > N - 2 * BOUND, `base advanced to ${mem.store.base}`);
  t.same(check(mem.store, w, mem.ret), [], 'memory: every retained command reads back right');
  t.same(check(disk.store, w, disk.ret), [], 'disk: every retained command reads back right');
  t.equal(summary(disk.store), summary(mem.store), 'the disk and the memory store agree (size, base, heads, horizon, retained)');
  t.ok(stateOf(mem.store).members.length >= N / 5_000, 'the membership commands are all retained (pinned)');
  assertBounded(t, mem, 'memory');
  assertBounded(t, disk, 'disk');
  t.ok(mem.max.pinnedData > 0 && disk.max.pinnedData > 0, 'the side heads were pinned below base (the side table was used)');
  t.same(stateOf(mem.store).pinnedDataList(), [], 'and pruned once merged');

  await disk.store.close();
  const reopened = new Host(await open());
  t.equal(summary(reopened.store), summary(mem.store), 'reopened: the same retained commands, heads and horizon');
  t.same(check(reopened.store, w, reopened.ret), [], 'reopened: every retained command reads back right');
  for (let i = 0; i < 4_000; i++) {
    const c = w.next();
    await mem.feed(c);
    await reopened.feed(c);
  }
  t.same(check(reopened.store, w, reopened.ret), [], 'reopened, then 4,000 more: every retained command reads back right');
  t.equal(summary(reopened.store), summary(mem.store), 'reopened, then 4,000 more: it agrees with the memory store');
  assertBounded(t, reopened, 'reopened disk');
  assertBounded(t, mem, 'memory, 4,000 more');
  await reopened.store.close();
});

/** Every field of slot `s`, parents as slots. */
function fields(ix: SlotIndex, s: number): unknown[] {
  const { author, seq } = ix.authorOf(s);
  return [toHex(ix.idOf(s)), ix.depthOf(s), ix.lengthOf(s), ix.offsetOf(s), toHex(author), seq, ix.kindOf(s), ix.frontierOf(s), ix.timeOf(s)];
}

t.test('property: repackSlots keeps every field of the kept slots and renumbers their parents', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 600 }), fc.integer(), fc.double({ min: 0, max: 1, noNaN: true }), (n, seed, p) => {
      const cmds = randomScopeDag(n, seed, 8);
      const from: SlotIndex = n + 1 > COMPACT_MAX_COMMANDS ? new CommandSlotIndex(8) : new CompactIndex();
      cmds.forEach((c, i) => {
        const at = new Map(cmds.slice(0, i).map((x, j) => [toHex(x.id), j]));
        from.add(c.id, c.parents.map((q) => at.get(toHex(q))!), c.bytes.length, i * 1_000, c.author, c.seq, 0, c.kind, i % 7, 1_700_000_000 + i);
      });
      // Keep slot 0 and a pseudo-random share of the others.
      const keep = cmds.map((_, i) => i).filter((i) => i === 0 || ((i * 2654435761) >>> 0) / 2 ** 32 < p);
      const moved: number[] = [];
      const to = repackSlots(from, keep, (off, len) => {
        moved.push(off);
        return off + len;
      });
      if (to.size !== keep.length || moved.join() !== keep.map((s) => s * 1_000).join()) return false;
      if ((to instanceof CompactIndex) !== keep.length <= COMPACT_MAX_COMMANDS || to.capacity > Math.ceil(keep.length * 1.25) + 1) return false;
      const newOf = new Map(keep.map((s, i) => [s, i]));
      return keep.every((s, i) => {
        const a = fields(from, s);
        a[3] = from.offsetOf(s) + from.lengthOf(s);
        const parents = from.parentsOf(s).filter((q) => newOf.has(q)).map((q) => newOf.get(q)!);
        return JSON.stringify(fields(to, i)) === JSON.stringify(a) && to.parentsOf(i).join() === parents.join() && to.indexOf(from.idOf(s)) === i;
      });
    }),
    { numRuns: 30 },
  );
  t.pass('60 random DAGs and keep sets');
  t.end();
});

t.test('a repack keeps the heads: a pinned command whose children were all pruned stays no head', async (t) => {
  const g = syntheticGenesis('test/repack-heads');
  const s = new MemoryScopeStore(g.id);
  s.append(g, { frontier: 0 });
  const side = syntheticCommandV2(g.id, [g.id], 1, Uint8Array.of(1));
  s.append(side, { frontier: 0 }); // a head on the genesis, kept below base
  let prev = g.id;
  const chain: CommandV2[] = [];
  for (let i = 2; i < 200; i++) {
    const c = syntheticCommandV2(g.id, [prev], i, Uint8Array.of(i));
    s.append(c, { frontier: 0 });
    chain.push(c);
    prev = c.id;
  }
  const prune = Array.from({ length: 150 }, (_, i) => i + 2);
  const horizon = [{ id: chain[149]!.id, depth: s.depthOf(151), frontier: [] }];
  t.same(s.heads(), [1, 199]);
  await s.prune({ prune, horizon });
  t.equal(stateOf(s).deadSlots, 0, 'repacked');
  t.equal(stateOf(s).ix.size, 50, 'genesis, the side head, 48 chain commands');
  t.same(s.heads(), [1, 199], 'the genesis (children pruned) is no head; the side head and the newest are');
  t.equal(toHex(s.bytesOf(1)), toHex(side.bytes), 'the pinned head reads back');
  t.equal(toHex(s.bytesOf(152)), toHex(chain[150]!.bytes));
  t.same(s.parentsOf(152), [], 'its parent is pruned');
  t.equal(s.depthOf(152), 152, 'the depth is kept');
  t.ok(s.bufferBytes <= 50 * 120, `the buffer holds the retained encodings (${s.bufferBytes} B)`);
});

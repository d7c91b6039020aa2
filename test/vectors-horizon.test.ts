/**
 * docs/vectors/horizon.json replayed without its generator: the commands decode (with the scope
 * id) to their ids, kinds and parents and verify under A (genesis, membership) or B (data); the
 * stated plan, applied to a fresh memory scope store, gives the stated base and is what §4.2
 * reads literally (the lowest non-head data commands until 10 are counted); each poll's answer is
 * recomputed from the request on that store, and checked item by item against §4.5.
 */
import t from 'tap';
import { decodeCommandV2, verifyCommandV2, type CommandV2 } from '../protocol/command-v2.js';
import { CommandKind } from '../protocol/constants-v2.js';
import { decodeHorizonRecord } from '../protocol/horizon-record.js';
import { fromHex, identityFromSecret, toHex } from '../protocol/keys.js';
import { MembershipGraph } from '../protocol/membership.js';
import { MemoryScopeStore } from '../agent/store/memory-scope-store.js';
import { PollAnswererV2 } from '../agent/sync/poll-answer-v2.js';
import { loadVectors } from '../testkit/vectors.js';

interface HorizonFile {
  identities: { A: string; B: string; C: string };
  scope_id: string;
  commands: Array<{ handle: number; kind: number; parents: number[]; id: string; encoding: string }>;
  retention: { commands: number };
  pruned: number[];
  base: number;
  pinned_heads: number[];
  horizon: Array<{ id: string; handle: number; depth: number; frontier: string[] }>;
  heads: string[];
  polls: Array<{
    name: string; requester_holds: number;
    request: { session: number; max_bytes: number; heads: string[]; sample: string[]; window: number };
    answer: { more: boolean; gap: boolean; total: number; heads: string[]; items: string[] };
    held_floor: number;
  }>;
}

const v = loadVectors<HorizonFile>('horizon.json');
const scopeId = fromHex(v.scope_id);
const A = identityFromSecret(fromHex(v.identities.A));
const B = identityFromSecret(fromHex(v.identities.B));
const cmds: CommandV2[] = v.commands.map((c) => decodeCommandV2(c.kind === CommandKind.Genesis ? null : scopeId, fromHex(c.encoding)));
const handleOf = (hex: string): number => v.commands.findIndex((c) => c.id === hex);

t.test('identities and commands: ids, kinds, parents, signatures', async (t) => {
  t.same([v.identities.A, v.identities.B, v.identities.C], ['01', '02', '03'].map((b) => b.repeat(32)));
  t.equal(v.commands.length, 40);
  t.equal(toHex(cmds[0]!.id), v.scope_id, 'the genesis id is the scope id');
  let bad = 0;
  cmds.forEach((c, h) => {
    const want = v.commands[h]!;
    const parents = want.parents.map((p) => v.commands[p]!.id).sort();
    const key = c.kind === CommandKind.Data ? B.publicKey : A.publicKey;
    if (toHex(c.id) !== want.id || c.kind !== want.kind || c.parents.map(toHex).join() !== parents.join() || !verifyCommandV2(c, key)) bad++;
  });
  t.equal(bad, 0);
  t.same(cmds.filter((c) => c.kind === CommandKind.Membership).length, 1, 'one membership command');
  t.ok(v.commands.some((c) => c.parents.length === 2), 'a merge');
});

/** A fresh store of all 40 (frontiers from a membership graph), then the file's plan. */
function replayStore(): { store: MemoryScopeStore; graph: MembershipGraph } {
  const store = new MemoryScopeStore(scopeId, { nowS: () => 0 });
  const graph = new MembershipGraph(scopeId);
  for (const c of cmds) {
    const facts = c.parents.map((p) => {
      const h = store.indexOf(p);
      return { id: p, membership: store.kindOf(h) !== CommandKind.Data, frontier: store.frontierOf(h) };
    });
    const f = c.kind === CommandKind.Genesis ? graph.empty : graph.frontierOf(facts);
    if (c.kind !== CommandKind.Data) graph.add({ id: c.id, kind: c.kind, author: c.author, frontier: f, payload: c.payload });
    store.append(c, { frontier: graph.intern(f) });
  }
  // A memory store applies a plan synchronously.
  void store.prune({ prune: v.pruned, horizon: v.horizon.map((e) => ({ id: fromHex(e.id), depth: e.depth, frontier: e.frontier.map(fromHex) })), pinnedHeads: v.pinned_heads });
  return { store, graph };
}
const { store, graph } = replayStore();
const frontierIds = (f: number): Uint8Array[] => graph.idsOf(graph.frontierAt(f));

t.test('pruning as §4.2 reads: the lowest non-head data commands until 10 count; base, pinned head, horizon', async (t) => {
  const children = new Map<number, number>();
  for (const c of v.commands) for (const p of c.parents) children.set(p, (children.get(p) ?? 0) + 1);
  const counted = v.commands.filter((c) => c.kind === CommandKind.Data && children.has(c.handle)).map((c) => c.handle);
  t.same(v.pruned, counted.slice(0, counted.length - v.retention.commands));
  t.same(v.pinned_heads, [10], 'the fork h10 is a head below base');
  t.equal(store.base, v.base);
  t.equal(v.base, Math.max(...v.pruned) + 1);
  const retained = new Set(Array.from({ length: 40 }, (_, h) => h).filter((h) => !v.pruned.includes(h)));
  const wantHorizon = v.pruned.filter((p) => v.commands.some((c) => retained.has(c.handle) && c.parents.includes(p)));
  t.same(v.horizon.map((e) => e.handle), wantHorizon, 'parents of retained commands that are not retained');
  const depth: number[] = [];
  for (const c of v.commands) depth.push(c.parents.length === 0 ? 1 : 1 + Math.max(...c.parents.map((p) => depth[p]!)));
  for (const e of v.horizon) t.same([e.id, e.depth, e.frontier], [v.commands[e.handle]!.id, depth[e.handle], [v.scope_id]], `h${e.handle}: its depth (the genesis 1), F = {genesis}`);
  t.same(v.heads, [10, 39].map((h) => v.commands[h]!.id));
});

t.test('the three polls, recomputed from their requests', async (t) => {
  for (const p of v.polls) {
    const answerer = new PollAnswererV2(store, frontierIds);
    const q = p.request;
    const a = answerer.answer('x', { type: 'PollRequest', scope: 0, session: q.session, max_bytes: q.max_bytes, heads: q.heads.map(fromHex), sample: q.sample.map(fromHex), window: q.window }, { scope: 0, nextPollMs: 1000 });
    const r = a.response;
    t.same({ more: r.more, gap: r.gap, total: r.total, heads: r.heads.map(toHex), items: r.items.map(toHex) }, p.answer, p.name);
    t.equal(a.heldFloor, p.held_floor, `${p.name}: held floor`);
    t.ok(p.answer.gap && !p.answer.more, `${p.name}: gap, one answer`);
    // Independently of the module: every command's parents are held by the requester, an earlier item, or a record before it.
    const have = new Set(v.commands.slice(0, p.requester_holds).map((c) => c.id));
    const named = p.answer.items.map((hex): { record: string } | { command: number } => {
      const bytes = fromHex(hex);
      if (bytes[0] === 0x83) return { record: toHex(decodeHorizonRecord(bytes).id) };
      return { command: handleOf(toHex(decodeCommandV2(scopeId, bytes).id)) };
    });
    let unresolved = 0;
    for (const n of named) {
      if ('record' in n) have.add(n.record);
      else {
        for (const par of v.commands[n.command]!.parents) if (!have.has(v.commands[par]!.id)) unresolved++;
        have.add(v.commands[n.command]!.id);
      }
    }
    t.equal(unresolved, 0, `${p.name}: every command placeable in order`);
    if (p.name === 'empty_requester') t.same(named.filter((n) => 'command' in n).map((n) => (n as { command: number }).command), [0, 10, ...Array.from({ length: 12 }, (_, i) => 28 + i)]);
    if (p.name === 'behind_the_horizon') t.notOk(named.some((n) => 'command' in n && n.command === 0), 'no genesis: the requester named it');
    if (p.name === 'window_5') {
      const commands = named.flatMap((n) => ('command' in n ? [n.command] : []));
      t.same(commands, [30, 35, 36, 37, 38, 39], 'the membership command h30 from the cut part, then the last 5 data commands');
    }
  }
});

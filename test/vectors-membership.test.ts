/**
 * docs/vectors/membership.json replayed through a fresh MembershipGraph per scenario, without
 * its generator: every encoding decodes (with the scenario's scope id) to its stated id and named
 * parents, every frontier, state, state after and verdict recomputes, and every accepted command
 * verifies under the key the verdict names (the author's).
 */
import t from 'tap';
import { compareBytes } from '../protocol/command.js';
import { decodeCommandV2, verifyCommandV2 } from '../protocol/command-v2.js';
import { CommandKind } from '../protocol/constants-v2.js';
import { fromHex, identityFromSecret, toHex } from '../protocol/keys.js';
import { MembershipGraph, type Frontier } from '../protocol/membership.js';
import { loadVectors } from '../testkit/vectors.js';

interface VCommand {
  name: string;
  author: string;
  kind: number;
  parents: string[];
  encoding: string;
  id: string;
  frontier: string[];
  state: Record<string, number>;
  state_after?: Record<string, number>;
  verdict: string;
}
interface MembershipFile {
  identities: Array<{ name: string; secret_seed: string; public_key: string; author: string }>;
  scenarios: Array<{ name: string; scope_id: string; commands: VCommand[] }>;
}

const v = loadVectors<MembershipFile>('membership.json');

t.test('identities come from the seeds 0x01×32, 0x02×32, …', async (t) => {
  v.identities.forEach((i, n) => {
    t.equal(i.secret_seed, toHex(new Uint8Array(32).fill(n + 1)), i.name);
    const x = identityFromSecret(fromHex(i.secret_seed));
    t.equal(toHex(x.publicKey), i.public_key);
    t.equal(toHex(x.author), i.author);
  });
});

t.test('the five scenarios of §10', async (t) => {
  t.same(v.scenarios.map((s) => s.name), ['concurrent_remove_add', 'concurrent_adds', 'mutual_admin_removal', 'frontier_17', 'removed_author']);
  const verdicts = new Set(v.scenarios.flatMap((s) => s.commands.map((c) => c.verdict)));
  t.same([...verdicts].sort(), ['NotPermitted', 'UnknownAuthor', 'accepted']);
  const f17 = v.scenarios.find((s) => s.name === 'frontier_17')!.commands.find((c) => c.name === 'merge_17')!;
  t.equal(f17.frontier.length, 17);
});

const stateOf = (graph: MembershipGraph, f: Frontier): Record<string, number> => Object.fromEntries(graph.state(f).members().map((m) => [toHex(m.publicKey), m.roles]));

for (const s of v.scenarios) {
  t.test(`replay ${s.name}`, async (t) => {
    const scopeId = fromHex(s.scope_id);
    const graph = new MembershipGraph(scopeId);
    const held = new Map<string, { id: Uint8Array; membership: boolean; frontier: number }>();
    const authors = new Map(v.identities.map((i) => [i.name, i.author]));
    for (const vc of s.commands) {
      const cmd = decodeCommandV2(vc.kind === CommandKind.Genesis ? null : scopeId, fromHex(vc.encoding));
      t.equal(toHex(cmd.id), vc.id, `${vc.name}: id`);
      t.equal(cmd.kind, vc.kind, `${vc.name}: kind`);
      t.equal(toHex(cmd.author), authors.get(vc.author), `${vc.name}: author`);
      if (vc.kind === CommandKind.Genesis) t.equal(vc.id, s.scope_id, 'the genesis id is the scope id');
      const parents = vc.parents.map((p) => {
        const h = held.get(p);
        if (h === undefined) throw new Error(`${vc.name}: parent ${p} not held`);
        return h;
      });
      t.same(cmd.parents.map(toHex), parents.map((p) => p.id).sort(compareBytes).map(toHex), `${vc.name}: parents`);
      const frontier = graph.frontierOf(parents);
      t.same(graph.idsOf(frontier).map(toHex), vc.frontier, `${vc.name}: frontier`);
      t.same(stateOf(graph, frontier), vc.state, `${vc.name}: state`);
      const facts = { id: cmd.id, kind: cmd.kind, author: cmd.author, frontier, payload: cmd.payload };
      const verdict = graph.check(facts);
      t.equal(verdict.ok ? 'accepted' : verdict.reason, vc.verdict, `${vc.name}: verdict`);
      if (!verdict.ok) continue;
      t.ok(verifyCommandV2(cmd, verdict.key), `${vc.name}: verifies under the key found`);
      if (cmd.kind !== CommandKind.Data) {
        graph.add(facts);
        t.same(stateOf(graph, graph.frontierFromIds([cmd.id])), vc.state_after, `${vc.name}: state after`);
      } else t.equal(vc.state_after, undefined);
      held.set(vc.name, { id: cmd.id, membership: cmd.kind !== CommandKind.Data, frontier: graph.intern(frontier) });
    }
  });
}

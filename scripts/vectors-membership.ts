/**
 * Membership vectors (docs/design/v2-scopes.md §10, `membership.json`): scripted DAGs of real v2
 * commands (genesis, data, membership), each command with its expected membership frontier
 * `F(c)` (ids, ascending), the state at it (public key hex → roles, removed keys as 0), for an
 * accepted membership command the state right after it, and its verdict (`accepted` or the
 * reason). Commands are listed in an arrival order (parents first); a refused command is never a
 * parent.
 *
 * Deterministic: identities from the seeds 0x01×32, 0x02×32, … (A, B, C, D, then E01…E17),
 * fixed nonces, deterministic Ed25519. Every verdict and the roles named in `expect` are stated
 * here by hand and checked against protocol/membership.ts before anything is written.
 * `make vectors` (scripts/gen-vectors.ts) writes the file; test/vectors-membership.test.ts
 * replays it through a fresh graph.
 */
import { encodeCommandV2, type CommandV2 } from '../protocol/command-v2.js';
import { CommandKind, Role, type CommandKindValue } from '../protocol/constants-v2.js';
import { encodeGenesisBody } from '../protocol/genesis.js';
import { identityFromSecret, toHex, type Identity } from '../protocol/keys.js';
import { encodeMembershipBody, type Member } from '../protocol/membership-body.js';
import { MembershipGraph, type Frontier, type ParentFacts } from '../protocol/membership.js';

const R = Role.Read;
const RW = Role.Read | Role.Write;
const RWA = Role.Read | Role.Write | Role.Admin;

const NAMES = ['A', 'B', 'C', 'D', ...Array.from({ length: 17 }, (_, i) => `E${String(i + 1).padStart(2, '0')}`)];
const IDS = new Map<string, Identity>(NAMES.map((n, i) => [n, identityFromSecret(new Uint8Array(32).fill(i + 1))]));
const id = (name: string): Identity => {
  const x = IDS.get(name);
  if (x === undefined) throw new Error(`no identity ${name}`);
  return x;
};

/** One scripted command: who, on which parents, what, and the hand-stated outcome. */
interface Step {
  name: string;
  author: string;
  parents: string[];
  kind: CommandKindValue;
  /** Genesis members or membership ops, by identity name. */
  ops?: Array<[string, number]>;
  verdict: 'accepted' | 'UnknownAuthor' | 'NotPermitted';
  /** Roles of named keys in state(F(c)) that the scenario is about. */
  expect?: Record<string, number>;
  description?: string;
}
interface Scenario {
  name: string;
  description: string;
  steps: Step[];
}

const g = (members: Array<[string, number]>): Step => ({ name: 'genesis', author: 'A', parents: [], kind: CommandKind.Genesis, ops: members, verdict: 'accepted' });
const m = (name: string, author: string, parents: string[], ops: Array<[string, number]>, verdict: Step['verdict'] = 'accepted', expect?: Record<string, number>): Step => ({ name, author, parents, kind: CommandKind.Membership, ops, verdict, ...(expect ? { expect } : {}) });
const d = (name: string, author: string, parents: string[], verdict: Step['verdict'] = 'accepted', expect?: Record<string, number>): Step => ({ name, author, parents, kind: CommandKind.Data, verdict, ...(expect ? { expect } : {}) });
const wide = NAMES.slice(4);

const SCENARIOS: Scenario[] = [
  {
    name: 'concurrent_remove_add',
    description: 'A removes C while B concurrently sets C to r: with both in its past, C has 0 (remove wins, §1.6)',
    steps: [
      g([['A', RWA], ['B', RWA], ['C', RW]]),
      m('remove_c', 'A', ['genesis'], [['C', 0]]),
      m('set_c_r', 'B', ['genesis'], [['C', R]]),
      d('merge', 'A', ['remove_c', 'set_c_r'], 'accepted', { C: 0 }),
      d('c_after_merge', 'C', ['merge'], 'UnknownAuthor', { C: 0 }),
      d('c_after_set_r', 'C', ['set_c_r'], 'NotPermitted', { C: R }),
      d('c_before_both', 'C', ['genesis'], 'accepted', { C: RW }),
    ],
  },
  {
    name: 'concurrent_adds',
    description: 'A adds D rw while B concurrently adds D r: after both D has r (the AND, §1.6)',
    steps: [
      g([['A', RWA], ['B', RWA]]),
      m('add_d_rw', 'A', ['genesis'], [['D', RW]]),
      m('add_d_r', 'B', ['genesis'], [['D', R]]),
      d('merge', 'A', ['add_d_rw', 'add_d_r'], 'accepted', { D: R }),
      d('d_after_merge', 'D', ['merge'], 'NotPermitted', { D: R }),
      d('d_after_rw', 'D', ['add_d_rw'], 'accepted', { D: RW }),
      m('readd_d_rw', 'A', ['merge'], [['D', RW]], 'accepted', { D: R }),
      d('d_after_readd', 'D', ['readd_d_rw'], 'accepted', { D: RW }),
    ],
  },
  {
    name: 'mutual_admin_removal',
    description: 'A takes B\'s A while B concurrently takes A\'s: both lose A, no membership change is possible any more, data still flows (§1.6, Q-8)',
    steps: [
      g([['A', RWA], ['B', RWA]]),
      m('a_demotes_b', 'A', ['genesis'], [['B', RW]]),
      m('b_demotes_a', 'B', ['genesis'], [['A', RW]]),
      d('merge', 'A', ['a_demotes_b', 'b_demotes_a'], 'accepted', { A: RW, B: RW }),
      m('a_adds_c', 'A', ['merge'], [['C', R]], 'NotPermitted', { A: RW }),
      m('b_adds_c', 'B', ['merge'], [['C', R]], 'NotPermitted', { B: RW }),
      m('b_after_demotion', 'B', ['a_demotes_b'], [['C', R]], 'NotPermitted', { B: RW }),
      d('b_writes', 'B', ['merge'], 'accepted'),
    ],
  },
  {
    name: 'frontier_17',
    description: 'A adds 17 keys in 17 concurrent membership commands; a command merging 16 of them has a 16-wide frontier (accepted), one merging all 17 a 17-wide one (NotPermitted, §1.5 rule 2, §2.3 step 4)',
    steps: [
      g([['A', RWA]]),
      ...wide.map((k) => m(`add_${k}`, 'A', ['genesis'], [[k, R]])),
      d('merge_16', 'A', wide.slice(0, 16).map((k) => `add_${k}`), 'accepted'),
      d('merge_17', 'A', ['merge_16', `add_${wide[16]!}`], 'NotPermitted'),
      m('membership_17', 'A', ['merge_16', `add_${wide[16]!}`], [['B', R]], 'NotPermitted'),
    ],
  },
  {
    name: 'removed_author',
    description: 'B writes, A removes B on top of it; B\'s command after the removal is UnknownAuthor, one built on the old parent is still valid (backdating, Q-1)',
    steps: [
      g([['A', RWA], ['B', RW]]),
      d('b_before', 'B', ['genesis'], 'accepted', { B: RW }),
      m('remove_b', 'A', ['b_before'], [['B', 0]], 'accepted', { B: RW }),
      d('b_after', 'B', ['remove_b'], 'UnknownAuthor', { B: 0 }),
      d('b_backdated', 'B', ['b_before'], 'accepted', { B: RW }),
      d('a_after', 'A', ['remove_b', 'b_backdated'], 'accepted', { B: 0 }),
    ],
  },
];

const membersOf = (ops: Array<[string, number]>): Member[] => ops.map(([k, roles]) => ({ publicKey: id(k).publicKey, roles }));
const stateReadable = (graph: MembershipGraph, f: Frontier): Record<string, number> =>
  Object.fromEntries(graph.state(f).members().map((x) => [toHex(x.publicKey), x.roles]));

/** Build, judge and record one scenario; throws when an outcome differs from the script. */
function scenarioVectors(s: Scenario, index: number): unknown {
  const seqs = new Map<string, number>();
  const held = new Map<string, { cmd: CommandV2; membership: boolean; frontier: number }>();
  let graph: MembershipGraph | undefined;
  let scopeId: Uint8Array | null = null;
  const commands: unknown[] = [];
  for (const step of s.steps) {
    const author = id(step.author);
    const ops = membersOf(step.ops ?? []);
    const payload =
      step.kind === CommandKind.Genesis
        ? encodeGenesisBody({ format: 1, name: `fleet/${s.name.replaceAll('_', '-')}`, nonce: new Uint8Array(16).fill(index), flags: 0, members: ops, retention: { maxCommands: 0, maxBytes: 0, maxAgeS: 0 } })
        : step.kind === CommandKind.Membership
          ? encodeMembershipBody({ ops })
          : new TextEncoder().encode(step.name);
    const seq = step.kind === CommandKind.Genesis ? 0 : (seqs.get(step.author) ?? 0) + 1;
    const parentInfo = step.parents.map((p) => {
      const h = held.get(p);
      if (h === undefined) throw new Error(`${s.name}/${step.name}: parent ${p} is not held`);
      return h;
    });
    const cmd = encodeCommandV2(scopeId, { parents: parentInfo.map((h) => h.cmd.id), author: author.author, seq, kind: step.kind, payload }, author.sign);
    if (graph === undefined) {
      scopeId = cmd.id;
      graph = new MembershipGraph(cmd.id);
    }
    const parents: ParentFacts[] = parentInfo.map((h) => ({ id: h.cmd.id, membership: h.membership, frontier: h.frontier }));
    const frontier = graph.frontierOf(parents);
    const facts = { id: cmd.id, kind: step.kind, author: cmd.author, frontier, payload };
    const v = graph.check(facts);
    const verdict = v.ok ? 'accepted' : v.reason;
    if (verdict !== step.verdict) throw new Error(`${s.name}/${step.name}: verdict ${verdict}, script says ${step.verdict}`);
    if (v.ok && toHex(v.key) !== toHex(author.publicKey)) throw new Error(`${s.name}/${step.name}: wrong key`);
    for (const [k, roles] of Object.entries(step.expect ?? {})) {
      const got = graph.state(frontier).roles(id(k).publicKey);
      if (got !== roles) throw new Error(`${s.name}/${step.name}: ${k} has ${got}, script says ${roles}`);
    }
    const state = stateReadable(graph, frontier);
    let after: Record<string, number> | undefined;
    if (v.ok) {
      seqs.set(step.author, seq);
      if (step.kind !== CommandKind.Data) {
        graph.add(facts);
        after = stateReadable(graph, graph.frontierFromIds([cmd.id]));
      }
      held.set(step.name, { cmd, membership: step.kind !== CommandKind.Data, frontier: graph.intern(frontier) });
    }
    commands.push({
      name: step.name,
      author: step.author,
      kind: step.kind,
      seq,
      parents: step.parents,
      ...(step.ops ? { ops: step.ops.map(([k, roles]) => ({ key: k, public_key: toHex(id(k).publicKey), roles })) } : {}),
      encoding: toHex(cmd.bytes),
      id: toHex(cmd.id),
      frontier: graph.idsOf(frontier).map(toHex),
      state,
      ...(after ? { state_after: after } : {}),
      verdict,
    });
  }
  return { name: s.name, description: s.description, scope_id: toHex(scopeId!), commands };
}

/** The membership vector file, keyed by its name under docs/vectors/. */
export function membershipVectors(): Record<string, unknown> {
  return {
    'membership.json': {
      description:
        'Membership evaluation (design v2-scopes §1.5–§1.7, §2.3 steps 4–5). Per scenario, commands in arrival order (parents by name, first the genesis, whose id is scope_id); ' +
        'per command: frontier = F(c) (ids ascending), state = state(F(c)) (public key hex → roles; 0 = removed), state_after = state({m}) for an accepted membership command, ' +
        'verdict = accepted or the refusal reason. Refused commands are not kept and never parents. Signatures verify under the author key of every accepted command.',
      identities: NAMES.map((n) => {
        const x = id(n);
        return { name: n, secret_seed: toHex(x.secretKey), public_key: toHex(x.publicKey), author: toHex(x.author) };
      }),
      scenarios: SCENARIOS.map((s, i) => scenarioVectors(s, i + 1)),
    },
  };
}

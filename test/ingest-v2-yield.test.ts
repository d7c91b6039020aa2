/**
 * agent/sync/ingest-v2.ts + turn-slice.ts: a scope's queue of received batches gives the event
 * loop back between batches. Batches that need no I/O (all duplicates, all rejected) otherwise run
 * as one chain of settled continuations: the live fuzzer's flood of replayed pushes held a
 * gateway's event loop for 1.4–2.9 s (no socket read, no timer, no other scope meanwhile).
 */
import t from 'tap';
import { encodeCommandV2, type CommandV2 } from '../protocol/command-v2.js';
import { CommandKind } from '../protocol/constants-v2.js';
import { encodeGenesisBody } from '../protocol/genesis.js';
import { identityFromSecret } from '../protocol/keys.js';
import { MemoryScopeStore } from '../agent/store/memory-scope-store.js';
import { ScopeIngest } from '../agent/sync/ingest-v2.js';
import { ScopeMembership } from '../agent/sync/scope-membership.js';
import { TurnSlice } from '../agent/sync/turn-slice.js';

const A = identityFromSecret(new Uint8Array(32).fill(1));

function chain(n: number): CommandV2[] {
  const payload = encodeGenesisBody({ format: 1, name: 'fleet/yield', nonce: Uint8Array.of(0), flags: 0, members: [{ publicKey: A.publicKey, roles: 7 }], retention: { maxCommands: 0, maxBytes: 0, maxAgeS: 0 } });
  const g = encodeCommandV2(null, { parents: [], author: A.author, seq: 0, kind: CommandKind.Genesis, payload }, (m) => A.sign(m));
  const out = [g];
  for (let i = 1; i < n; i++) out.push(encodeCommandV2(g.id, { parents: [out[i - 1]!.id], author: A.author, seq: i, kind: CommandKind.Data, payload: new Uint8Array(100).fill(i & 0xff) }, (m) => A.sign(m)));
  return out;
}

t.test('a queue of duplicate batches lets an immediate run before it is done', async (t) => {
  const cmds = chain(200);
  const store = new MemoryScopeStore(cmds[0]!.id);
  const ing = new ScopeIngest({ store, membership: new ScopeMembership(cmds[0]!.id) });
  const first = await ing.receive(cmds.map((c) => c.bytes), 'peer', 'poll');
  t.equal(first.appended.length, 200);

  const batches = 400; // each 200 duplicates: tens of milliseconds in all, well over one turn's 8 ms
  let done = 0;
  let doneWhenImmediateRan = -1;
  const all: Promise<unknown>[] = [];
  for (let i = 0; i < batches; i++) all.push(ing.receive(cmds.map((c) => c.bytes), 'peer', 'push').then(() => done++));
  setImmediate(() => (doneWhenImmediateRan = done));
  await Promise.all(all);
  t.equal(done, batches);
  t.equal(ing.stats.duplicates, batches * 200, 'every resent command was dropped as a duplicate');
  t.ok(doneWhenImmediateRan >= 0 && doneWhenImmediateRan < batches, `the immediate ran after ${doneWhenImmediateRan} of ${batches} batches, not after all`);
});

t.test('TurnSlice: no yield while a turn lasts or after the loop turned; one once the budget is used', async (t) => {
  const slice = new TurnSlice(5);
  t.equal(slice.pause(), undefined, 'the first unit of a turn never waits');
  t.equal(slice.pause(), undefined, 'nor one inside the budget');
  const until = performance.now() + 6;
  while (performance.now() < until); // use up the budget inside one turn
  const p = slice.pause();
  t.ok(p instanceof Promise, 'over the budget: wait for the next turn');
  await p;
  t.equal(slice.pause(), undefined, 'a new turn starts its own budget');
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 10));
  t.equal(slice.pause(), undefined, 'a queue that went idle pays no yield');
});

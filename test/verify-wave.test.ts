/**
 * agent/sync/verify-wave.ts: a wave with one signature to check verifies it inline, once per
 * event-loop turn in the process; every other wave, and a second lone one in the same turn, goes
 * to the thread pool. Either way the verdicts are the same, forged commands included.
 */
import t from 'tap';
import { encodeCommandV2, type CommandV2 } from '../protocol/command-v2.js';
import { CommandKind } from '../protocol/constants-v2.js';
import { encodeGenesisBody } from '../protocol/genesis.js';
import { identityFromSecret } from '../protocol/keys.js';
import { MemoryScopeStore } from '../agent/store/memory-scope-store.js';
import { ScopeIngest } from '../agent/sync/ingest-v2.js';
import { ScopeMembership } from '../agent/sync/scope-membership.js';
import { InlineVerifyGate, verifyWave, type VerifyJob } from '../agent/sync/verify-wave.js';

const A = identityFromSecret(new Uint8Array(32).fill(3));
const B = identityFromSecret(new Uint8Array(32).fill(4));

function genesis(): CommandV2 {
  const payload = encodeGenesisBody({ format: 1, name: 'fleet/verify-wave', nonce: Uint8Array.of(0), flags: 0, members: [{ publicKey: A.publicKey, roles: 7 }], retention: { maxCommands: 0, maxBytes: 0, maxAgeS: 0 } });
  return encodeCommandV2(null, { parents: [], author: A.author, seq: 0, kind: CommandKind.Genesis, payload }, (m) => A.sign(m));
}

function data(g: CommandV2, seq: number): CommandV2 {
  return encodeCommandV2(g.id, { parents: [g.id], author: A.author, seq, kind: CommandKind.Data, payload: Uint8Array.of(seq) }, (m) => A.sign(m));
}

/** The same command with its signature's first byte flipped: same id, a forged signature. */
function forged(c: CommandV2): CommandV2 {
  const sig = Uint8Array.from(c.signature!);
  sig[0] = sig[0]! ^ 1;
  const bytes = Uint8Array.from(c.bytes);
  bytes[bytes.length - 64] = bytes[bytes.length - 64]! ^ 1;
  return { ...c, signature: sig, bytes };
}

/** A gate that counts its claims. */
class CountingGate extends InlineVerifyGate {
  claims = 0;
  override take(): boolean {
    this.claims++;
    return super.take();
  }
}

const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

t.test('the gate grants one inline verify per event-loop turn', async (t) => {
  const gate = new InlineVerifyGate();
  t.equal(gate.take(), true, 'the first claim of a turn');
  t.equal(gate.take(), false, 'a second claim in the same turn is refused');
  await nextTurn();
  t.equal(gate.take(), true, 'the next turn grants one again');
});

t.test('verdicts are the same inline and on the pool; only a lone job asks the gate', async (t) => {
  const g = genesis();
  const good = data(g, 1);
  const bad = forged(data(g, 2));
  const job = (cmd: CommandV2, key = A.publicKey): VerifyJob => ({ cmd, key });

  const gate = new CountingGate();
  t.same(await verifyWave([job(good)], gate), [true], 'a good lone command, inline');
  t.same(await verifyWave([job(bad)], gate), [false], 'a forged lone command in the same turn, on the pool');
  t.equal(gate.claims, 2);
  await nextTurn();
  t.same(await verifyWave([job(bad)], gate), [false], 'a forged lone command, inline');
  t.same(await verifyWave([job(good, B.publicKey)], new InlineVerifyGate()), [false], 'a key that does not name the author never verifies inline');
  gate.claims = 0;
  t.same(await verifyWave([job(good), job(bad), job(data(g, 3))], gate), [true, false, true], 'a wave of three, on the pool');
  t.same(await verifyWave([], gate), [], 'an empty wave');
  t.equal(gate.claims, 0, 'waves of other sizes never ask the gate');
});

t.test('two scopes each taking in one forged push in the same turn reject both', async (t) => {
  const g = genesis();
  const ingests = [0, 1].map(() => new ScopeIngest({ store: new MemoryScopeStore(g.id), membership: new ScopeMembership(g.id) }));
  for (const ing of ingests) t.equal((await ing.receive([g.bytes], 'peer', 'poll')).appended.length, 1);
  await nextTurn();
  const bad = forged(data(g, 1));
  const good = data(g, 2);
  const [r0, r1] = await Promise.all(ingests.map((ing) => ing.receive([bad.bytes], 'peer', 'push')));
  t.same(r0!.rejected, { BadSignature: 1 }, 'the first scope rejects it');
  t.same(r1!.rejected, { BadSignature: 1 }, 'the second, whose lone verify in the same turn may not run inline, rejects it too');
  const [a0, a1] = await Promise.all(ingests.map((ing) => ing.receive([good.bytes], 'peer', 'push')));
  t.equal(a0!.appended.length + a1!.appended.length, 2, 'a good push is appended by both');
});

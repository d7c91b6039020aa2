/**
 * A `Push` carrying a compact batch (PROTOCOL.md §10.7, `Push.batch`, field 5) is taken in like a
 * poll answer's: its commands come after `commands`, covers authenticate the chain (one verify
 * for the run), and a forged command inside the run costs the whole run, nothing stored.
 */
import t from 'tap';
import { encodeCommandV2, type CommandV2 } from '../protocol/command-v2.js';
import { fingerprint } from '../protocol/command.js';
import { encodeBatch } from '../protocol/compact-batch.js';
import { CommandKind } from '../protocol/constants-v2.js';
import type { Identity } from '../protocol/keys.js';
import { gatewayWithRawWriter } from '../testkit/raw-writer-v2.js';
import { until } from '../testkit/wait.js';
import { FAST_V2 } from './engine-v2-kit.js';

// A device's setting (covers only): a gateway, with its default 'every', would check each signature.
const rig = (t: { teardown(fn: () => unknown): void }) => gatewayWithRawWriter(t, { ...FAST_V2, batchVerify: 'covers' });

/** A chain of `n` commands by `me` on the genesis. */
function chain(me: Identity, scopeId: Uint8Array, genesis: Uint8Array, n: number): CommandV2[] {
  const out: CommandV2[] = [];
  let parent = genesis;
  for (let i = 1; i <= n; i++) {
    const c = encodeCommandV2(scopeId, { parents: [parent], author: fingerprint(me.publicKey), seq: i, kind: CommandKind.Data, payload: Uint8Array.of(i) }, (m) => me.sign(m));
    out.push(c);
    parent = c.id;
  }
  return out;
}

t.test('a pushed compact batch is stored, its chain verified by one cover', async (t) => {
  const { me, host, raw, scope } = await rig(t);
  const cmds = chain(me, host.id, host.store.idOf(0).slice(), 20);
  const before = host.ingest.stats.batches.verified;
  raw.send({ type: 'Push', scope, remaining: 100_000, exhausted: false, commands: [cmds[0]!.bytes], batch: encodeBatch(cmds.slice(1).map((command) => ({ command, elide: false }))) });
  await until(() => host.store.size === 21, 20_000, 'all 20 stored');
  for (const c of cmds) t.ok(host.store.indexOf(c.id) >= 0, `command ${c.seq} held`);
  t.equal(host.ingest.stats.batches.verified - before, 1, 'one signature verified for the 19 of the batch');
});

t.test('a forged command inside a pushed run: nothing of the run is stored', async (t) => {
  const { me, host, raw, scope, s } = await rig(t);
  const cmds = chain(me, host.id, host.store.idOf(0).slice(), 10);
  // Command 5's payload altered after signing: its id changes, so 6..10's parents no longer match.
  const forged = { ...cmds[4]!, payload: Uint8Array.of(99) };
  raw.send({ type: 'Push', scope, remaining: 100_000, exhausted: false, commands: [], batch: encodeBatch(cmds.map((c, i) => ({ command: i === 4 ? forged : c, elide: false }))) });
  await until(() => s.stats.pushesIn === 1, 20_000, 'the push arrived');
  await host.ingest.idle();
  t.ok(host.store.indexOf(cmds[4]!.id) < 0, 'the forged command is not stored');
  t.ok(cmds.slice(4).every((c) => host.store.indexOf(c.id) < 0), 'nor any command after it');
});

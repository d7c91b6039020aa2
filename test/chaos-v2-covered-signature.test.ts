/**
 * What the fuzzer's live layer found (chaos report, 2 Dec): with `batchVerify` 'covers' then the
 * default, a covered command's own signature was stored unchecked, and an id does not cover the
 * signature — so a relay that altered the signature of a covered command inside a genuine chain
 * got the command stored with a signature that fails, which a peer taking it as a plain command
 * later refuses. A gateway (no `elide`) now checks every signature ('every'): the altered copy is
 * refused, what builds on it waits, and the genuine copy releases the chain. The stored-signature
 * audit of the chaos run (bench/chaos-v2-batch.ts) finds nothing.
 */
import t from 'tap';
import { encodeCommandV2, type CommandV2 } from '../protocol/command-v2.js';
import { encodeBatch } from '../protocol/compact-batch.js';
import { CommandKind } from '../protocol/constants-v2.js';
import { gatewayWithRawWriter } from '../testkit/raw-writer-v2.js';
import { until } from '../testkit/wait.js';
import { auditSignatures, keysByAuthor } from '../bench/chaos-v2-batch.js';
import { FAST_V2 } from './engine-v2-kit.js';

t.test('a covered command relayed with an altered signature is not stored with it', async (t) => {
  const { gw, me, host, raw, scope, s } = await gatewayWithRawWriter(t, FAST_V2);
  const cmds: CommandV2[] = [];
  let parent: Uint8Array = host.store.idOf(0).slice();
  for (let i = 1; i <= 5; i++) {
    const c = encodeCommandV2(host.id, { parents: [parent], author: me.author, seq: i, kind: CommandKind.Data, payload: Uint8Array.of(i) }, (m) => me.sign(m));
    cmds.push(c);
    parent = c.id;
  }
  // Command 2 keeps its id (the id covers no signature) but carries another signature.
  const altered = { ...cmds[1]!, signature: Uint8Array.from(cmds[1]!.signature!, (x, i) => (i === 0 ? x ^ 1 : x)) };
  raw.send({ type: 'Push', scope, remaining: 100_000, exhausted: false, commands: [], batch: encodeBatch(cmds.map((c, i) => ({ command: i === 1 ? altered : c, elide: false }))) });
  await until(() => s.stats.pushesIn === 1, 20_000, 'the push arrived');
  await host.ingest.idle();
  t.ok(host.store.indexOf(cmds[0]!.id) >= 0, 'the command before it is stored');
  t.equal(host.store.indexOf(cmds[1]!.id), -1, 'the altered copy is refused');
  t.ok(cmds.slice(2).every((c) => host.store.indexOf(c.id) < 0), 'what builds on it waits');
  raw.send({ type: 'Push', scope, remaining: 100_000, exhausted: false, commands: [cmds[1]!.bytes] });
  await until(() => host.store.size === 6, 20_000, 'the genuine copy releases the chain');
  const audit = auditSignatures(gw, keysByAuthor([gw.identity.publicKey, me.publicKey]));
  t.equal(audit.signed, 6, 'genesis and the five commands read back');
  t.equal(audit.bad, 0, 'no stored signature fails');
});

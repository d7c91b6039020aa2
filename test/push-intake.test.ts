/**
 * agent/sync/push-intake.ts, the bound on a scope's pushed commands waiting for placement, over
 * all its links: past the bound a push is dropped and counted, a lone push larger than the bound
 * is still taken, and every (link, scope) that lost a push is polled once the backlog drained to
 * half. Then the regression:
 * a raw peer floods a gateway with valid pushes far faster than it verifies them, and the
 * gateway's backlog never exceeds the bound (before the bound it grew with the flood).
 */
import t from 'tap';
import { MAX_PUSH_BACKLOG_BYTES, PushIntake } from '../agent/sync/push-intake.js';
import { encodeCommandV2 } from '../protocol/command-v2.js';
import { fingerprint } from '../protocol/command.js';
import { CommandKind } from '../protocol/constants-v2.js';
import { gatewayWithRawWriter } from '../testkit/raw-writer-v2.js';
import { until } from '../testkit/wait.js';
import { FAST_V2 } from './engine-v2-kit.js';

/** A promise and its resolver. */
function deferred(): { p: Promise<void>; done: () => void } {
  let done!: () => void;
  const p = new Promise<void>((r) => (done = r));
  return { p, done };
}

t.test('dropped past the bound, counted, and each (link, scope) that lost one polled once half drained', async (t) => {
  const repaired: string[] = [];
  const intake = new PushIntake(1000);
  const repair = (key: string) => (): void => void repaired.push(key);
  const runs = [deferred(), deferred(), deferred(), deferred()];
  for (let i = 0; i < 3; i++) t.ok(intake.take('1/aa', 300, () => runs[i]!.p, repair('1/aa')), `push ${i} taken`);
  t.equal(intake.take('2/aa', 300, () => runs[3]!.p, repair('2/aa')), null, 'a fourth, from another link, would pass the bound: dropped');
  t.equal(intake.take('1/aa', 200, () => runs[3]!.p, repair('1/aa')), null, 'so is a fifth');
  t.equal(intake.take('1/aa', 200, () => runs[3]!.p, repair('1/aa')), null, 'and a sixth on the same link');
  t.same([intake.backlog, intake.dropped, intake.peak], [900, 3, 900]);
  const settle = async (k: number): Promise<void> => {
    runs[k]!.done();
    await runs[k]!.p;
    await Promise.resolve();
  };
  await settle(0);
  t.same(repaired, [], '600 left: above half the bound, no poll yet');
  await settle(1);
  t.same(repaired.sort(), ['1/aa', '2/aa'], '300 left: both links that lost a push are polled, once each');
  await settle(2);
  t.equal(intake.backlog, 0);
  t.equal(repaired.length, 2, 'and not again');
  runs[3]!.done();
});

t.test('a push larger than the bound is taken when nothing waits; a rejected run releases its bytes', async (t) => {
  const intake = new PushIntake(100);
  const p = intake.take('1/aa', 500, () => Promise.reject(new Error('disk full')), () => undefined);
  t.ok(p, 'taken alone');
  await t.rejects(p!, /disk full/);
  await Promise.resolve();
  t.equal(intake.backlog, 0, 'released on failure too');
});

t.test('regression: a push flood no longer grows the scope\'s backlog past the bound', async (t) => {
  const { me, host, raw, scope: mine, s } = await gatewayWithRawWriter(t, FAST_V2);
  // 3,000 signed commands of ~900 bytes (~2.7 MB), 3 per push, all on the genesis: each verifies on its own.
  const genesis = host.store.idOf(0).slice();
  const author = fingerprint(me.publicKey);
  const payload = new Uint8Array(880);
  let sent = 0;
  for (let i = 0; i < 1000; i++) {
    const cmds = [0, 1, 2].map((k) => {
      payload[0] = i & 0xff;
      payload[1] = i >> 8;
      payload[2] = k;
      return encodeCommandV2(host.id, { parents: [genesis], author, seq: 1 + i * 3 + k, kind: CommandKind.Data, payload }, (m) => me.sign(m)).bytes;
    });
    raw.send({ type: 'Push', scope: mine, remaining: 1_000_000, exhausted: false, commands: cmds });
    sent += cmds.length;
  }
  const intake = host.pushIntake;
  await until(() => s.stats.pushesIn === 1000 && intake.backlog === 0, 60_000, 'every push routed and the backlog drained');
  t.ok(s.stats.pushesDropped > 0, `pushes were dropped (${s.stats.pushesDropped} of 1,000)`);
  t.equal(intake.dropped, s.stats.pushesDropped, 'the stat is the intake\'s count');
  t.ok(intake.peak <= MAX_PUSH_BACKLOG_BYTES, `the backlog peaked at ${intake.peak} bytes, within the bound`);
  await host.ingest.idle();
  const taken = host.store.size - 1;
  t.ok(taken > 0 && taken <= sent - 3 * s.stats.pushesDropped, `${taken} commands placed: at most those not dropped`);
});

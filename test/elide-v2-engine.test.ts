/**
 * Signature elision between two real engines (issue 17): a device engine with the setting
 * `elide` on a memory link to a gateway asks for covered commands without their signatures, holds
 * them so, and converges; a device without the setting holds every signature. Bytes of the poll
 * answers are compared in the same test (no timing).
 */
import t from 'tap';
import { createMemoryLinkPair } from '../agent/memory-link.js';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import { decodeHeldCommandV2 } from '../protocol/command-v2.js';
import { Role } from '../protocol/constants-v2.js';
import { decodeMessageV2 } from '../protocol/envelope-v2.js';
import { generateIdentity } from '../protocol/keys.js';
import { until } from '../testkit/wait.js';
import { FAST_V2 } from './engine-v2-kit.js';

const N = 300;
const NAME = 'fleet/elide';

async function syncOnce(t: { teardown(fn: () => unknown): void }, elide: boolean, elideSegment?: number): Promise<{ held: number; answerBytes: number; elideAsked: boolean; segments: Set<number | undefined> }> {
  const [gi, di] = [generateIdentity(), generateIdentity()];
  const gw = await EngineV2.open({ identity: gi, trust: { mode: 'list', keys: [di.publicKey] }, tuning: { ...FAST_V2, subscribe: false }, scopes: { max: Infinity } });
  const dev = await EngineV2.open({ identity: di, trust: { mode: 'list', keys: [gi.publicKey] }, tuning: { ...FAST_V2, subscribe: false, elide, ...(elideSegment === undefined ? {} : { elideSegment }) }, scopes: { join: [NAME], max: Infinity } });
  t.teardown(() => Promise.all([gw.close(), dev.close()]));
  await gw.createScope({ name: NAME, members: [{ publicKey: gi.publicKey, roles: Role.Read | Role.Write | Role.Admin }], openRead: true });
  for (let i = 0; i < N; i++) await gw.commit(NAME, new Uint8Array(100).fill(i & 0xff));
  let answerBytes = 0;
  let elideAsked = false;
  const segments = new Set<number | undefined>();
  gw.on('frame-out', (_p, m) => {
    if (decodeMessageV2(m).type === 'PollResponse') answerBytes += m.length;
  });
  dev.on('frame-out', (_p, m) => {
    const msg = decodeMessageV2(m);
    if (msg.type === 'PollRequest' && msg.elide === true) elideAsked = true;
    if (msg.type === 'PollRequest') segments.add(msg.segment);
  });
  const [a, b] = createMemoryLinkPair({ seal: 'off' });
  gw.attach(a);
  dev.attach(b);
  await until(() => dev.scope(NAME)?.store.size === N + 1, 30_000, 'the device holds every command');
  const store = dev.scope(NAME)!.store;
  let held = 0;
  for (let h = 0; h < store.size; h++) if (decodeHeldCommandV2(store.scopeId, store.bytesOf(h)).signature === null) held++;
  return { held, answerBytes, elideAsked, segments };
}

t.test('a device engine with elide holds covered commands without signatures; one without holds them all signed', async (t) => {
  const on = await syncOnce(t, true);
  const off = await syncOnce(t, false);
  t.ok(on.elideAsked, 'the device with elide asked for it');
  t.notOk(off.elideAsked, 'the other never did');
  t.ok(on.held > N / 2, `${on.held} of ${N + 1} held without a signature`);
  t.equal(off.held, 0, 'without the setting every signature is kept');
  t.ok(on.answerBytes < off.answerBytes * 0.8, `answers ${on.answerBytes} B with elide < 0.8 × ${off.answerBytes} B without`);
});

t.test("elideSegment: the device's polls name it, and a signature covers up to that many bytes of entries", async (t) => {
  const big = await syncOnce(t, true);
  const small = await syncOnce(t, true, 1024);
  t.same([...big.segments], [65536], 'default: every poll asks for segments of 64 KiB');
  t.same([...small.segments], [undefined], 'elideSegment 1,024: the field stays absent (its default)');
  // N = 300 commands of ~102 B fit one 64 KiB answer: only the genesis and the chain's last come signed.
  t.equal(N + 1 - big.held, 2, `64 KiB segments: ${N + 1 - big.held} of ${N + 1} commands signed`);
  t.ok(N + 1 - small.held >= Math.floor((N * 102) / 1024), `1 KiB segments: ${N + 1 - small.held} signed, one at least every 1,024 bytes`);
  t.ok(big.answerBytes < small.answerBytes - 60 * 25, `answers ${big.answerBytes} B < ${small.answerBytes} B`);
});

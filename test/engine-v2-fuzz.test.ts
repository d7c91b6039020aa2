/**
 * Hostile frames against the v2 engine's sessions (protocol-v2.md §3.1, §7.1, §9.5, §14.2), from
 * a raw peer built on `protocol/` alone over unsealed memory links, with fixed seeds:
 *
 * - before the handshake (random bytes, truncated and mutated v2 `Hello`s, v1 `Hello`s with and
 *   without an ephemeral key): the engine sends its `Hello`, at most its `Auth`, and at most one
 *   3-field `Error` after which the link is closed; it never throws and takes every frame in;
 * - after a proper unsealed handshake, with the fleet scope open both ways: hostile messages of
 *   every v2 type (testkit/fuzz-inputs-v2.ts): the engine never throws (no 'uncaughtException',
 *   'unhandledRejection', error-level log line or `Internal` answer), answers `UnknownScope` at
 *   most once per 16 bad frames, still answers a legitimate poll on the link when the scope is
 *   still active there, and afterwards a legitimate v2 peer still syncs the scope with it.
 */
import t, { type Test } from 'tap';
import { createMemoryLinkPair } from '../agent/memory-link.js';
import type { Link } from '../agent/link.js';
import type { Logger } from '../agent/node/log.js';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import type { SessionV2 } from '../agent/sync/session-v2.js';
import { Role } from '../protocol/constants-v2.js';
import { decodeMessageV2, encodeMessageV2 } from '../protocol/envelope-v2.js';
import { ReasonCode } from '../protocol/errors.js';
import { generateIdentity, toHex, type Identity } from '../protocol/keys.js';
import type { MessageV2 } from '../protocol/messages-v2.js';
import { authV2, helloV1, helloV2, hostileBodyV2, type V2FuzzContext } from '../testkit/fuzz-inputs-v2.js';
import { mutate } from '../testkit/fuzz-inputs.js';
import { prng, type Prng } from '../testkit/prng.js';
import { until, waitFor } from '../testkit/wait.js';
import { FAST_V2, idsIn } from './engine-v2-kit.js';

const SCOPE = 'fleet/acme';
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

// Anything thrown out of a frame handler surfaces here (memory links deliver in microtasks).
const escaped: string[] = [];
const onEscape = (err: unknown): void => void escaped.push(String(err instanceof Error ? err.stack : err));
process.on('uncaughtException', onEscape);
process.on('unhandledRejection', onEscape);
t.teardown(() => {
  process.off('uncaughtException', onEscape);
  process.off('unhandledRejection', onEscape);
});

/** A logger that keeps its error-level lines (the session logs a handler's throw there). */
function errorLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { lines, log: { debug() {}, info() {}, warn() {}, error: (f, m) => void lines.push(`${m ?? ''} ${JSON.stringify(f)}`) } };
}

/** The peer end of a link, by hand: answers the engine's `Hello` with an `Auth`, keeps what it receives. */
class RawV2 {
  readonly got: MessageV2[] = [];
  undecodable = 0;
  readonly hello: Uint8Array;
  private authed = false;
  constructor(
    readonly link: Link,
    private readonly me: Identity,
    private readonly answerHello = true,
  ) {
    this.hello = helloV2(me);
    link.on('frame', (body) => {
      let m: MessageV2;
      try {
        m = decodeMessageV2(body);
      } catch {
        return void this.undecodable++;
      }
      this.got.push(m);
      if (m.type === 'Hello' && this.answerHello && !this.authed) {
        this.authed = true;
        link.send(authV2(this.me, this.hello, body));
      }
    });
  }
  send(m: MessageV2): void {
    this.link.send(encodeMessageV2(m));
  }
}

/** The engine under test: holds the open-read fleet scope; trusts the raw peer and the legitimate one. */
async function gateway(raw: Identity, legit: Identity): Promise<{ gw: EngineV2; errors: string[] }> {
  const { log, lines } = errorLog();
  const gw = await EngineV2.open({ identity: generateIdentity(), trust: { mode: 'list', keys: [raw.publicKey, legit.publicKey] }, tuning: FAST_V2, logger: log, scopes: { max: Infinity } });
  await gw.createScope({ name: SCOPE, members: [{ publicKey: gw.identity.publicKey, roles: Role.Read | Role.Write | Role.Admin }], openRead: true });
  return { gw, errors: lines };
}

/** Wait until the session took in `n` frames since `from` (or dropped them, or closed). */
async function settled(s: SessionV2, link: Link, from: number, n: number, what: string): Promise<void> {
  await until(() => !link.open || s.stats.framesIn + s.stats.intakeDropped - from >= n, 5000, what);
  await new Promise((r) => setImmediate(r)); // answers queued in microtasks reach the peer
}

/** A legitimate v2 peer joins the scope on a fresh (sealed) link and gets every command of it, then a new one. */
async function stillSyncs(t: Test, gw: EngineV2, legit: Identity): Promise<void> {
  const peer = await EngineV2.open({ identity: legit, trust: { mode: 'list', keys: [gw.identity.publicKey] }, tuning: FAST_V2, scopes: { join: [SCOPE] } });
  const [a, b] = createMemoryLinkPair();
  gw.attach(a);
  peer.attach(b);
  await until(() => idsIn(peer, SCOPE).length > 0 && idsIn(peer, SCOPE).join() === idsIn(gw, SCOPE).join(), 5000, 'the legitimate peer caught up');
  await gw.commit(SCOPE, text('after the fuzz'));
  await until(() => idsIn(peer, SCOPE).join() === idsIn(gw, SCOPE).join(), 5000, 'and takes a new command');
  t.same(idsIn(peer, SCOPE), idsIn(gw, SCOPE), 'a legitimate peer still syncs the scope');
  await peer.close();
}

/** A hostile body before the handshake. */
function preHandshake(r: Prng, me: Identity, other: Identity): Uint8Array {
  const own = helloV2(r.chance(0.8) ? me : other);
  switch (r.int(6)) {
    case 0:
      return r.bytes(r.int(120));
    case 1:
      return own.subarray(0, r.int(own.length));
    case 2:
    case 3:
      return mutate(r, own, [helloV2(other)]);
    case 4: // a v1 Hello with an ephemeral key (refused by the handshake)
      return helloV1(me, { seal: r.chance(0.5) });
    default: // a v1 Hello older than sealing (refused by the decoder)
      return helloV1(me, { legacy: true });
  }
}

t.test('before the handshake: hostile first frames get at most one 3-field Error, never a throw or a stall', async (t) => {
  const [ri, li, stranger] = [generateIdentity(), generateIdentity(), generateIdentity()];
  const { gw, errors } = await gateway(ri, li);
  t.teardown(() => gw.close());
  const r = prng(0x5eed01);
  let refused = 0;
  const wrong: string[] = [];
  for (let run = 0; run < 80; run++) {
    const [a, b] = createMemoryLinkPair({ seal: 'off' });
    const s = gw.attach(a);
    const raw = new RawV2(b, ri, false);
    const bodies = Array.from({ length: 1 + r.int(4) }, () => preHandshake(r, ri, stranger));
    for (const body of bodies) b.send(body);
    await settled(s, a, 0, bodies.length, `run ${run}: the frames were taken in`);
    const out = raw.got;
    const errs = out.filter((m) => m.type === 'Error');
    const ok = out.every((m) => m.type === 'Hello' || m.type === 'Auth' || m.type === 'Error') && errs.length <= 1 && errs.every((e) => e.type === 'Error' && e.scope === undefined);
    if (!ok) wrong.push(`run ${run}: answered ${JSON.stringify(out.map((m) => m.type))}`);
    if (errs.length > 0) {
      refused++;
      await until(() => !a.open, 2000, `run ${run}: a refused link is closed`);
    }
    if (s.authenticated) wrong.push(`run ${run}: up without a valid Auth`);
    await a.close();
  }
  t.same(wrong, [], 'only Hello, Auth and at most one 3-field Error per link; never up');
  t.ok(refused > 0, `some links were refused (${refused} of 80)`);
  t.same(escaped, [], 'nothing escaped a handler');
  t.same(errors, [], 'no error-level log line');
  await stillSyncs(t, gw, li);
});

/** Bring a raw link up with the fleet scope active both ways; the engine's number for it. */
async function upLink(gw: EngineV2, me: Identity): Promise<{ s: SessionV2; raw: RawV2; a: Link; ctx: V2FuzzContext }> {
  const [a, b] = createMemoryLinkPair({ seal: 'off' });
  const s = gw.attach(a);
  const raw = new RawV2(b, me);
  b.send(raw.hello);
  const h = gw.scope(SCOPE)!;
  const key = toHex(h.id);
  await until(() => s.authenticated && raw.got.some((m) => m.type === 'Scopes'), 20_000, 'up, and the table announced');
  const sc = raw.got.find((m) => m.type === 'Scopes');
  if (sc?.type !== 'Scopes') throw new Error('no Scopes');
  const entry = sc.open.find((e) => toHex(e[1]) === key);
  if (entry === undefined) throw new Error('the fleet scope was not offered');
  raw.send({ type: 'ScopesAck', seq: sc.seq, refused: [] });
  raw.send({ type: 'Scopes', seq: 0, open: [[5, h.id, SCOPE]], close: [] });
  await until(() => s.table.active(h.id), 20_000, 'the scope is active on the link');
  const commands: Uint8Array[] = [];
  for (let i = 0; i < h.store.size; i++) if (h.store.isRetained(i)) commands.push(h.store.bytesOf(i));
  return { s, raw, a, ctx: { number: entry[0], scopeId: h.id, name: SCOPE, commands, me } };
}

t.test('after an unsealed handshake: hostile messages of every type never throw, UnknownScope at most once per 16, liveness', async (t) => {
  const [ri, li] = [generateIdentity(), generateIdentity()];
  const { gw, errors } = await gateway(ri, li);
  t.teardown(() => gw.close());
  for (const p of ['one', 'two', 'three']) await gw.commit(SCOPE, text(`config ${p}`));
  const FRAMES = 400;
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    const { s, raw, a, ctx } = await upLink(gw, ri);
    const r = prng(seed);
    const from = s.stats.framesIn + s.stats.intakeDropped;
    for (let i = 0; i < FRAMES; i++) raw.link.send(hostileBodyV2(r, ctx));
    await settled(s, a, from, FRAMES, `seed ${seed}: the frames were taken in`);
    const unknown = raw.got.filter((m) => m.type === 'Error' && m.code === ReasonCode.UnknownScope).length;
    t.ok(unknown <= Math.ceil(s.stats.badFrames / 16), `seed ${seed}: ${unknown} UnknownScope answers for ${s.stats.badFrames} bad frames`);
    t.notOk(raw.got.some((m) => m.type === 'Error' && m.code === ReasonCode.Internal), `seed ${seed}: no Internal error`);
    if (a.open && s.table.active(ctx.scopeId)) {
      raw.send({ type: 'PollRequest', scope: ctx.number, session: 4242, max_bytes: 8192, heads: [], sample: [], window: 0 });
      await until(() => raw.got.some((m) => m.type === 'PollResponse' && m.session === 4242), 20_000, `seed ${seed}: a legitimate poll is answered on the same link`);
      t.pass(`seed ${seed}: a legitimate poll is still answered on the same link`);
    } else t.comment(`seed ${seed}: the link ${a.open ? 'no longer has the scope active' : 'was closed'}`);
    await a.close();
  }
  t.same(escaped, [], 'nothing escaped a handler');
  t.same(errors, [], 'no error-level log line');
  await stillSyncs(t, gw, li);
});

// Regression (found by this fuzz): a wait beyond 2^31 − 1 ms reached setTimeout, which fires it after 1 ms.
t.test('an Error whose retry_after_ms Node cannot time is not retried after 1 ms', async (t) => {
  const [ri, li] = [generateIdentity(), generateIdentity()];
  const { gw } = await gateway(ri, li);
  t.teardown(() => gw.close());
  const overflow: string[] = [];
  const onWarning = (w: Error): void => void (w.name === 'TimeoutOverflowWarning' && overflow.push(w.message));
  process.on('warning', onWarning);
  t.teardown(() => void process.off('warning', onWarning));
  const { raw, ctx } = await upLink(gw, ri);
  const polls = (): number[] => raw.got.flatMap((m) => (m.type === 'PollRequest' && m.scope === 5 ? [m.session] : []));
  await until(() => polls().length > 0, 20_000, 'the engine polls the raw peer');
  const first = polls()[0]!;
  // Busy, "come back in 49 days", naming the engine's own number of the scope (§3.7).
  raw.send({ type: 'Error', code: ReasonCode.Busy, message: 'busy', retry_after_ms: 0xffffffff, scope: ctx.number });
  const again = await waitFor(() => polls().some((n) => n !== first), 1000);
  t.notOk(again, 'no new poll of the scope right after it was asked to wait 49 days');
  t.same(overflow, [], 'no delay handed to setTimeout beyond what it can time');
});

/**
 * Sealed links between two engines (issue 13, PROTOCOL.md §7): sealed by default; the 3×3 policy
 * matrix; and a man in the middle on the wire (testkit/wire-tap.ts `WireTap`) that
 * observes, drops, replays, alters and injects frames: no plaintext message after the handshake,
 * injected unsealed frames change nothing, replays and altered frames are dropped and counted, a
 * forged Hello costs one re-handshake that keeps the link, downgrades are refused, a real restart
 * relinks, a low rekey threshold switches keys without losing a push, and the sealed close marker
 * closes the far end. Pushes are told from polls by slow paced polls (only a push can deliver a
 * command within the waits). No timing assertions: every wait is for a state, with a deadline.
 */
import t from 'tap';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { createMemoryLinkPair } from '../agent/memory-link.js';
import type { Link } from '../agent/link.js';
import { MemoryStore } from '../agent/store/memory-store.js';
import { Engine, type EngineOptions, type Logger } from '../agent/sync/engine.js';
import type { PeerSession } from '../agent/sync/peer-session.js';
import { encodeCommand } from '../protocol/command.js';
import { Capability } from '../protocol/constants.js';
import { decodeMessage, encodeMessage } from '../protocol/envelope.js';
import { ReasonCode } from '../protocol/errors.js';
import { generateIdentity, type Identity } from '../protocol/keys.js';
import type { Hello, Message } from '../protocol/messages.js';
import { SEAL_POLICIES, ephemeralFromSecret, isSealed, sealedSeq, type SealPolicy } from '../protocol/seal.js';
import { FAST, peerOf } from '../testkit/engines.js';
import { WireTap, type TapDir } from '../testkit/wire-tap.js';
import { until } from '../testkit/wait.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

interface Line {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: Record<string, unknown>;
  msg: string;
}

function capture(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: Line['level']) => (obj: object, msg = '') => void lines.push({ level, obj: obj as Record<string, unknown>, msg });
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

/** Slow paced polls: within the waits below only a push delivers a command. */
const PUSH_ONLY: Partial<EngineOptions> = { ...FAST, subscribedPollS: 600, pollHint: { minMs: 60_000, maxMs: 60_000 } };

interface Pair {
  a: Engine;
  b: Engine;
  ia: Identity;
  ib: Identity;
  tap: WireTap;
  logs: { a: Line[]; b: Line[] };
  /** A's session with B and B's with A (once up). */
  sa(): PeerSession | undefined;
  sb(): PeerSession | undefined;
}

/** Two engines trusting each other, linked through a wire tap (its filter set before the first frame). */
function pair(
  tt: { teardown(fn: () => unknown): void },
  o: { a?: SealPolicy; b?: SealPolicy; engine?: Partial<EngineOptions>; propagateClose?: boolean; filter?: WireTap['filter'] } = {},
): Pair {
  const [ia, ib] = [generateIdentity(), generateIdentity()];
  const keys = [ia.publicKey, ib.publicKey];
  const la = capture();
  const lb = capture();
  const mk = (identity: Identity, logger: Logger): Engine =>
    new Engine({ identity, store: new MemoryStore(), trust: { mode: 'list', keys }, ...FAST, ...o.engine, logger });
  const a = mk(ia, la.logger);
  const b = mk(ib, lb.logger);
  const tap = new WireTap({ a: o.a, b: o.b }, o.propagateClose ?? true);
  if (o.filter) tap.filter = o.filter;
  const sa = a.attach(tap.a);
  const sb = b.attach(tap.b);
  tt.teardown(() => Promise.all([a.close(), b.close()]));
  // The handles attach returned, while they are up (as the engine's own table of sessions has them).
  const up = (s: PeerSession): PeerSession | undefined => (s.authenticated && s.link.open ? s : undefined);
  return { a, b, ia, ib, tap, logs: { a: la.lines, b: lb.lines }, sa: () => up(sa), sb: () => up(sb) };
}

/** Whether `e` holds a subscription of `peerId` (it pushes to it). */
const holds = (e: Engine, peerId: string): boolean => peerOf(e, peerId)?.subscriber === true;
/** Authenticated sessions of `e`. */
const upCount = (e: Engine): number => e.snapshot().peers.filter((x) => x.authenticated).length;

/** Both sides up and each subscribed to the other (pushes flow both ways). */
async function upAndSubscribed(p: Pair): Promise<void> {
  await until(() => p.sa()?.subscribed === true && p.sb()?.subscribed === true, 10_000, 'both up and subscribed');
  await until(() => holds(p.a, p.ib.peerId) && holds(p.b, p.ia.peerId), 10_000, 'both subscriptions held');
}

/** Commit on `from` and wait until `to` holds it (by push, under PUSH_ONLY). */
async function pushes(from: Engine, to: Engine, label: string): Promise<void> {
  const id = await from.commit(enc(`${label} ${Math.random()}`));
  await until(() => to.store.indexOf(id) >= 0, 10_000, `a push: ${label}`);
}

/** Every frame (default: all the tap saw) is sealed, or an unsealed Hello or Auth (§7.4). */
function onlySealedAfterHandshake(tap: WireTap, frames = tap.seen): string[] {
  const bad: string[] = [];
  for (const { dir, body } of frames) {
    if (isSealed(body)) continue;
    let type = 'undecodable';
    try {
      type = decodeMessage(body).type;
    } catch {
      /* counted below */
    }
    if (type !== 'Hello' && type !== 'Auth') bad.push(`${dir}: unsealed ${type} (${body.length} bytes, first byte ${body[0]})`);
  }
  return bad;
}

const rehandshakeLog = (lines: Line[]): number => lines.filter((l) => l.msg === 're-handshake complete').length;

t.test('links are sealed by default, and carry no plaintext message after the handshake', async (tt) => {
  const p = pair(tt, { engine: PUSH_ONLY });
  await upAndSubscribed(p);
  tt.ok(p.sa()!.sealed && p.sb()!.sealed, 'both sides sealed (memory links default to require)');
  await pushes(p.a, p.b, 'a to b');
  await pushes(p.b, p.a, 'b to a');
  tt.same(onlySealedAfterHandshake(p.tap), [], 'every frame but Hello and Auth starts with 0x53');
  const hellos = p.tap.seen.filter((f) => !isSealed(f.body) && decodeMessage(f.body).type === 'Hello').map((f) => decodeMessage(f.body) as Hello);
  tt.ok(hellos.length >= 2 && hellos.every((h) => h.ephemeral !== undefined && (h.caps & Capability.Seal) !== 0), 'every Hello carries an ephemeral key and the Seal bit');
  tt.equal(p.sa()!.stats.sealFailures + p.sb()!.stats.sealFailures + p.sa()!.stats.replays + p.sb()!.stats.replays, 0, 'nothing failed to open on a clean wire');
});

t.test('the policy matrix: require / prefer / off on each side (§7.2)', async (tt) => {
  for (const pa of SEAL_POLICIES) {
    for (const pb of SEAL_POLICIES) {
      await tt.test(`A ${pa}, B ${pb}`, async (t2) => {
        const p = pair(t2, { a: pa, b: pb });
        const sealed = pa !== 'off' && pb !== 'off';
        const refusedBy = pa === 'require' && pb === 'off' ? 'a' : pb === 'require' && pa === 'off' ? 'b' : null;
        if (refusedBy === null) {
          await until(() => p.sa()?.authenticated === true && p.sb()?.authenticated === true, 10_000, 'both up');
          t2.equal(p.sa()!.sealed, sealed, `A's side ${sealed ? 'sealed' : 'unsealed'}`);
          t2.equal(p.sb()!.sealed, sealed, `B's side ${sealed ? 'sealed' : 'unsealed'}`);
          await p.a.commit(enc('x'));
          await until(() => p.b.store.size === 1, 10_000, 'the command synced');
          if (sealed) t2.same(onlySealedAfterHandshake(p.tap), [], 'no plaintext after the handshake');
          else t2.ok(p.tap.seen.some((f) => !isSealed(f.body) && decodeMessage(f.body).type === 'PollRequest'), 'polls travel in the clear');
          return;
        }
        const [refuser, other] = refusedBy === 'a' ? [p.logs.a, p.logs.b] : [p.logs.b, p.logs.a];
        const dir: TapDir = refusedBy === 'a' ? 'ab' : 'ba';
        await until(() => other.some((l) => l.level === 'warn' && l.obj.code === ReasonCode.SealingRequired), 10_000, 'the refused side logs the refusal');
        const errors = p.tap.frames(dir).filter((b) => !isSealed(b)).map((b) => decodeMessage(b)).filter((m): m is Extract<Message, { type: 'Error' }> => m.type === 'Error');
        t2.same(errors.map((e) => e.code), [ReasonCode.SealingRequired], 'the refusing side sent Error{SealingRequired}');
        t2.match(errors[0]!.message, /requires sealing; peer [0-9a-f]{16} did not offer it/, 'the message says why');
        t2.ok(refuser.some((l) => l.level === 'warn' && /requires sealing/.test(l.msg)), 'the refusing side logs at warn');
        const heard = other.find((l) => l.level === 'warn' && l.obj.code === ReasonCode.SealingRequired)!;
        t2.match(String(heard.obj.message), /requires sealing/, "the refused side's warning carries the peer's message");
        await until(() => !p.tap.a.open && !p.tap.b.open, 10_000, 'the link closed');
        t2.equal(upCount(p.a) + upCount(p.b), 0, 'no link came up');
      });
    }
  }
});

/** The frames a forger could inject toward B (unsealed, as if from A): each must change nothing. */
function unsealedInjections(p: Pair): { name: string; body: Uint8Array }[] {
  const cmd = (seq: number) => Uint8Array.from(encodeCommand({ parents: [], author: p.ia.author, seq, payload: enc('injected') }, p.ia.sign).bytes);
  const m = (x: Message): Uint8Array => encodeMessage(x);
  return [
    { name: 'PollRequest', body: m({ type: 'PollRequest', session: 7, max_bytes: 65536, heads: [], sample: [] }) },
    { name: 'Subscribe', body: m({ type: 'Subscribe', remain_open: 600, max_bytes: 64, sample: [], via: [] }) },
    { name: 'Unsubscribe', body: m({ type: 'Unsubscribe' }) },
    { name: 'Error UnsupportedVersion', body: m({ type: 'Error', code: ReasonCode.UnsupportedVersion, message: 'x', retry_after_ms: null }) },
    { name: 'Error MaximumSubscriptionsExceeded', body: m({ type: 'Error', code: ReasonCode.MaximumSubscriptionsExceeded, message: 'x', retry_after_ms: 60_000 }) },
    { name: 'empty payload (the unsealed close marker)', body: new Uint8Array(0) },
    { name: 'bare command', body: cmd(900_000) },
    { name: 'Push', body: m({ type: 'Push', remaining: 1000, exhausted: false, commands: [cmd(900_001)] }) },
    { name: 'Keys', body: m({ type: 'Keys', keys: [generateIdentity().publicKey] }) },
  ];
}

/** What injected frames must not change at B. */
function stateOf(p: Pair): string {
  const sb = p.sb();
  const snap = p.b.snapshot();
  const peer = snap.peers.find((x) => x.authenticated && x.id === p.ia.peerId);
  const c = sb?.requester.snapshot();
  return JSON.stringify({
    up: sb?.authenticated && sb.link.open,
    same: sb === undefined ? null : sb.link === p.tap.b,
    slot: peer?.subscriber === true,
    remaining: peer?.pushBudget ?? null,
    commands: p.b.store.size,
    stopped: c?.stopped,
    refused: c?.refused,
    polled: sb?.stats.polledCommands,
    keys: snap.trust.keys,
  });
}

t.test('injected unsealed frames change nothing; pushes keep flowing (§7.4 rule 4)', async (tt) => {
  const p = pair(tt, { engine: PUSH_ONLY });
  await upAndSubscribed(p);
  await pushes(p.b, p.a, 'b to a first (an injected poll would have something to answer)');
  const sb = p.sb()!;
  for (const inj of unsealedInjections(p)) {
    const before = stateOf(p);
    const dropped = sb.stats.unsealedDropped;
    p.tap.inject('ab', inj.body);
    await until(() => sb.stats.unsealedDropped === dropped + 1, 5000, `${inj.name} counted`);
    tt.equal(stateOf(p), before, `${inj.name}: dropped, counted, nothing changed`);
  }
  await pushes(p.b, p.a, 'b to a after the injections');
  await pushes(p.a, p.b, 'a to b after the injections');
  tt.equal(sb.stats.unsealedDropped, unsealedInjections(p).length, 'each injection counted once as unsealedDropped');

  // Random interleavings of unsealed injections and garbage (sealed-looking or not): state never changes.
  const pool = unsealedInjections(p).map((x) => x.body);
  const frame = fc.oneof(
    fc.constantFrom(...pool),
    fc.uint8Array({ minLength: 1, maxLength: 80 }).map((b) => (b[0] === 0x53 ? Uint8Array.from([0x52, ...b]) : b)),
    fc.uint8Array({ minLength: 0, maxLength: 80 }).map((b) => Uint8Array.from([0x53, ...b])),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(frame, { minLength: 1, maxLength: 12 }), async (frames) => {
      const before = stateOf(p);
      const [u, f] = [sb.stats.unsealedDropped, sb.stats.sealFailures];
      const sealedLike = frames.filter((b) => isSealed(b)).length;
      for (const body of frames) p.tap.inject('ab', body);
      await until(() => sb.stats.unsealedDropped === u + frames.length - sealedLike && sb.stats.sealFailures === f + sealedLike, 5000, 'every injected frame counted');
      return stateOf(p) === before;
    }),
    { numRuns: 40, seed: 13 },
  );
  await pushes(p.b, p.a, 'b to a after the property run');
  tt.same(onlySealedAfterHandshake(p.tap, p.tap.seen.filter((x) => x.dir === 'ba')), [], 'B never answered in the clear');
});

t.test('replayed sealed frames are dropped and counted; so are altered and truncated ones', async (tt) => {
  const p = pair(tt, { engine: PUSH_ONLY });
  await upAndSubscribed(p);
  for (let i = 0; i < 5; i++) await pushes(p.a, p.b, `a to b ${i}`);
  const sb = p.sb()!;
  const recorded = p.tap.frames('ab').filter((b) => isSealed(b));
  tt.ok(recorded.length >= 8, `${recorded.length} sealed frames recorded`);
  await fc.assert(
    fc.asyncProperty(fc.array(fc.nat(recorded.length - 1), { minLength: 1, maxLength: 8 }), async (picks) => {
      const before = stateOf(p);
      const r = sb.stats.replays;
      for (const i of picks) p.tap.inject('ab', recorded[i]!);
      await until(() => sb.stats.replays === r + picks.length, 5000, 'every replay counted');
      return stateOf(p) === before;
    }),
    { numRuns: 25, seed: 7 },
  );
  await fc.assert(
    fc.asyncProperty(
      fc.nat(recorded.length - 1),
      fc.oneof(fc.record({ flip: fc.nat() }), fc.record({ cut: fc.integer({ min: 1, max: 40 }) })),
      async (i, change) => {
        const orig = recorded[i]!;
        let body: Uint8Array;
        if ('flip' in change) {
          body = Uint8Array.from(orig);
          const bit = 8 + (change.flip % ((orig.length - 1) * 8)); // never the 0x53 marker itself
          body[bit >> 3]! ^= 1 << (bit & 7);
        } else body = orig.slice(0, Math.max(1, orig.length - change.cut));
        const before = stateOf(p);
        const f = sb.stats.sealFailures;
        p.tap.inject('ab', body);
        await until(() => sb.stats.sealFailures === f + 1, 5000, 'the altered frame counted');
        return stateOf(p) === before;
      },
    ),
    { numRuns: 40, seed: 11 },
  );
  await pushes(p.a, p.b, 'a to b after replays and forgeries');
  tt.equal(sb.stats.badFrames, 0, 'nothing reached the message decoder');
});

/** A's first Hello as the tap saw it, and a forgery of it: same key, new nonce and ephemeral key. */
function forgedHello(p: Pair): Uint8Array {
  const genuine = p.tap.frames('ab').map((b) => (isSealed(b) ? null : decodeMessage(b))).find((m): m is Hello => m?.type === 'Hello')!;
  return encodeMessage({ ...genuine, nonce: new Uint8Array(randomBytes(16)), ephemeral: ephemeralFromSecret(new Uint8Array(randomBytes(32))).publicKey });
}

t.test('a forged Hello with a new nonce costs one re-handshake that keeps the link and its subscriptions (§7.5)', async (tt) => {
  const p = pair(tt, { engine: PUSH_ONLY });
  await upAndSubscribed(p);
  const [sa, sb] = [p.sa()!, p.sb()!];
  p.tap.inject('ab', forgedHello(p));
  await until(() => sa.stats.rehandshakes === 1 && sb.stats.rehandshakes === 1, 10_000, 'the re-handshake completed on both sides');
  tt.equal(p.sa(), sa, "A's session is the same one");
  tt.equal(p.sb(), sb, "B's session is the same one");
  tt.ok(sa.sealed && sb.sealed && sa.authenticated && sb.authenticated, 'still up and sealed');
  tt.ok(holds(p.a, p.ib.peerId) && holds(p.b, p.ia.peerId), 'both subscriptions kept');
  await pushes(p.b, p.a, 'b to a after the re-handshake');
  await pushes(p.a, p.b, 'a to b after the re-handshake');
  tt.equal(sa.stats.rehandshakes + sb.stats.rehandshakes, 2, 'exactly one re-handshake, on each side');
  tt.equal(rehandshakeLog(p.logs.a) + rehandshakeLog(p.logs.b), 2, 'and logged');
  // The same forgery again within a second is ignored (one re-handshake a second at most) or,
  // later, costs one more: never a closed link.
  p.tap.inject('ab', forgedHello(p));
  await pushes(p.b, p.a, 'b to a after a second forgery');
  tt.ok(sb.link.open && p.sb() === sb, 'the link survives forged Hellos');
  tt.same(onlySealedAfterHandshake(p.tap), [], 'no plaintext message throughout');
});

t.test('while a re-handshake is pending the current session keeps working; a retransmitted Hello completes it', async (tt) => {
  let holdHellos = false;
  const p = pair(tt, {
    engine: PUSH_ONLY,
    // Drop B's Hellos toward A while holding: B's re-handshake can then not complete.
    filter: (dir, body) => (holdHellos && dir === 'ba' && !isSealed(body) && decodeMessage(body).type === 'Hello' ? null : body),
  });
  await upAndSubscribed(p);
  const [sa, sb] = [p.sa()!, p.sb()!];
  holdHellos = true;
  const held = p.tap.frames('ba').length;
  p.tap.inject('ab', forgedHello(p));
  await until(() => p.tap.frames('ba').slice(held).some((b) => !isSealed(b) && decodeMessage(b).type === 'Hello'), 5000, "B's new Hello (held back)");
  await pushes(p.a, p.b, 'a to b while the re-handshake is pending');
  await pushes(p.b, p.a, 'b to a while the re-handshake is pending');
  tt.equal(sb.stats.rehandshakes, 0, 'not complete: the pending handshake waits for its Auth');
  holdHellos = false; // B retransmits its Hello (500 ms, doubling): A answers, both complete
  await until(() => sa.stats.rehandshakes === 1 && sb.stats.rehandshakes === 1, 15_000, 'the re-handshake completed after a retransmission');
  await pushes(p.b, p.a, 'b to a after the re-handshake');
  tt.ok(p.sa() === sa && p.sb() === sb && sa.sealed && sb.sealed, 'the same sessions, still sealed');
});

/** A filter that rewrites A's Hellos. */
function rewriteHello(change: (h: Hello) => Hello): WireTap['filter'] {
  return (dir, body) => {
    if (dir !== 'ab' || isSealed(body)) return body;
    const m = decodeMessage(body);
    return m.type === 'Hello' ? encodeMessage(change(m)) : body;
  };
}

t.test('a stripped Seal bit or ephemeral key (a downgrade) is refused (§7.2)', async (tt) => {
  const cases: { name: string; a: SealPolicy; b: SealPolicy; change: (h: Hello) => Hello; code: number }[] = [
    { name: 'Seal bit stripped, B requires', a: 'require', b: 'require', change: (h) => ({ ...h, caps: h.caps & ~Capability.Seal }), code: ReasonCode.SealingRequired },
    { name: 'Seal bit stripped, both prefer: the signatures fail', a: 'prefer', b: 'prefer', change: (h) => ({ ...h, caps: h.caps & ~Capability.Seal }), code: ReasonCode.Unauthorized },
    { name: 'ephemeral stripped, B requires', a: 'require', b: 'require', change: ({ ephemeral: _e, ...h }) => h, code: ReasonCode.SealingRequired },
    { name: 'ephemeral stripped, B prefers', a: 'prefer', b: 'prefer', change: ({ ephemeral: _e, ...h }) => h, code: ReasonCode.SealingRequired },
  ];
  for (const c of cases) {
    await tt.test(c.name, async (t2) => {
      let ups = 0;
      const p = pair(t2, { a: c.a, b: c.b, filter: rewriteHello(c.change) });
      p.a.on('peer-up', () => ups++);
      p.b.on('peer-up', () => ups++);
      await until(() => !p.tap.a.open && !p.tap.b.open, 10_000, 'the link closed');
      const errors = p.tap.seen.filter((f) => !isSealed(f.body)).map((f) => decodeMessage(f.body)).filter((m) => m.type === 'Error');
      t2.ok(errors.some((e) => e.type === 'Error' && e.code === c.code), `refused with code ${c.code}`);
      t2.equal(ups, 0, 'no side ever came up');
      const notErrors = p.tap.seen.filter((f) => isSealed(f.body) || decodeMessage(f.body).type !== 'Error');
      t2.same(onlySealedAfterHandshake(p.tap, notErrors), [], 'nothing but Hello, Auth and the refusal went in the clear');
    });
  }
});

t.test('a genuine restart of one engine relinks in place: one re-handshake, the session kept', async (tt) => {
  const [ia, ib] = [generateIdentity(), generateIdentity()];
  const keys = [ia.publicKey, ib.publicKey];
  const mk = (identity: Identity): Engine => new Engine({ identity, store: new MemoryStore(), trust: { mode: 'list', keys }, ...PUSH_ONLY });
  const b = mk(ib);
  // B's end of the "cable" stays; A's side is swapped for a fresh engine on a fresh link end.
  const [lb, bFar] = createMemoryLinkPair();
  let aFar: Link | null = null;
  bFar.on('frame', (body) => aFar?.send(body));
  const attachA = (e: Engine): PeerSession => {
    const [la, far] = createMemoryLinkPair();
    far.on('frame', (body) => {
      if (aFar === far) bFar.send(body);
    });
    aFar = far;
    return e.attach(la);
  };
  const sb = b.attach(lb);
  const a1 = mk(ia);
  attachA(a1);
  const a2 = mk(ia);
  tt.teardown(() => Promise.all([a1.close(), a2.close(), b.close()]));
  await until(() => sb.subscribed && holds(a1, ib.peerId), 10_000, 'B subscribed to A');
  const sa2 = attachA(a2);
  await until(() => sb.stats.rehandshakes === 1 && sa2.authenticated, 10_000, 'relinked');
  tt.ok(sb.authenticated && sb.link.open && upCount(b) === 1, "B's session is the same one");
  tt.ok(sb.sealed && sa2.sealed, 'sealed on both sides');
  await until(() => holds(a2, ib.peerId), 10_000, 'B subscribed to the restarted A again');
  const id = await a2.commit(enc('after restart'));
  await until(() => b.store.indexOf(id) >= 0, 10_000, 'a push from the restarted A');
  tt.pass('pushes flow from the restarted peer');
});

t.test('rekeying at a low threshold switches keys without losing a push (§7.4, §7.5)', async (tt) => {
  const p = pair(tt, { engine: { ...PUSH_ONLY, rekeyAt: 40 } });
  await upAndSubscribed(p);
  const ids: Uint8Array[] = [];
  for (let round = 0; round < 3; round++) {
    // One push per command (each waits for the last): 40 sealed frames a round at least.
    for (let i = 0; i < 40; i++) {
      const id = await p.a.commit(enc(`r${round} c${i}`));
      ids.push(id);
      await until(() => p.b.store.indexOf(id) >= 0, 10_000, `round ${round}: command ${i} pushed`);
    }
    // At most one re-handshake a second: let the next one be allowed.
    await new Promise((r) => setTimeout(r, 1100));
  }
  const [sa, sb] = [p.sa()!, p.sb()!];
  tt.ok(sa.stats.rehandshakes >= 2 && sb.stats.rehandshakes >= 2, `re-handshakes: A ${sa.stats.rehandshakes}, B ${sb.stats.rehandshakes}`);
  const seqs = p.tap.frames('ab').filter(isSealed).map(sealedSeq);
  const restarts = seqs.filter((s, i) => i > 0 && s < seqs[i - 1]!).length;
  tt.ok(restarts >= 2, `A's sequence numbers started again from 0 under new keys ${restarts} times`);
  tt.equal(sb.stats.sealFailures, 0, 'no frame failed to open across the switches');
  tt.equal(p.b.store.size, ids.length, 'every command arrived, by push alone');
  tt.same(onlySealedAfterHandshake(p.tap), [], 'no plaintext message throughout');
});

t.test('the sealed close marker closes the other side, which sends nothing back (§7.6)', async (tt) => {
  const p = pair(tt, { propagateClose: false });
  await until(() => p.sa()?.sealed === true && p.sb()?.sealed === true, 10_000, 'both up sealed');
  let baAtMarker = -1;
  const prev = p.tap.filter;
  p.tap.filter = (dir, body) => {
    if (dir === 'ab' && isSealed(body) && body.length === 21) baAtMarker = p.tap.frames('ba').length;
    return prev(dir, body);
  };
  await p.sa()!.close();
  tt.notOk(p.tap.a.open, "A's link closed");
  await until(() => !p.tap.b.open, 10_000, "B's link closed by the marker alone");
  tt.ok(baAtMarker >= 0, 'A sent a 21-byte sealed frame (empty plaintext) before closing');
  tt.equal(p.tap.frames('ba').length, baAtMarker, 'B sent nothing after the marker');
  tt.equal(upCount(p.b), 0, 'B dropped the session');
});

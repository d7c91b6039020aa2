/**
 * The agent does what docs/PROTOCOL.md says (issue 11, "the agent does what the spec says"):
 *
 * - a subscription is suspended with its link: resumed by the same peer, freed first for
 *   another, ended after 60 s (§9.3);
 * - an `Error` before the link is up is counted and changes no other state (§7);
 * - a restart `Hello` carries a fresh nonce, so a replayed `Auth` from the first handshake is
 *   refused (§7);
 * - `Keys` sends the whole directory, 64 keys per message (§7);
 * - heads give way to the first command under a tight `max_bytes` — agent and device (§8.1);
 * - a poll whose budget fit no command is not charged as idle (§10.2); idle ones still are;
 * - no empty exhausted `Push` (§9.4); a budget that fit nothing is raised to at most 1,387 (§8.2);
 * - jitter never shortens a `retry_after_ms`, and poll timeouts back off exponentially (§10.3),
 *   the agent's and the device's, checked on a fake clock.
 *
 * A raw peer on the far end of a memory link plays the other side message by message.
 */
import t from 'tap';
import { createMemoryLinkPair } from '../agent/memory-link.js';
import type { Link } from '../agent/link.js';
import { MemoryStore } from '../agent/store/memory-store.js';
import { syntheticCommand } from '../testkit/synthetic-commands.js';
import { Engine, type EngineOptions } from '../agent/sync/engine.js';
import { ClientPacer } from '../agent/sync/pacing.js';
import { PollResponder } from '../agent/sync/poll-responder.js';
import { PollShaper } from '../agent/sync/poll-shaper.js';
import { planPush } from '../agent/sync/push.js';
import { SubscriptionTable, SUSPEND_MS } from '../agent/sync/subscription-table.js';
import { CommandRing } from '../firmware-sim/device/ring.js';
import { RingResponder } from '../firmware-sim/device/poll.js';
import { DeviceSync, POLL_TIMEOUT_MS } from '../firmware-sim/device/sync.js';
import { POLL_FIT_ANY_BYTES } from '../protocol/constants.js';
import { encodeMessage } from '../protocol/envelope.js';
import { ReasonCode } from '../protocol/errors.js';
import { generateIdentity, toHex, type Identity } from '../protocol/keys.js';
import { RawWire } from '../testkit/raw-wire.js';
import type { Message, PollRequest } from '../protocol/messages.js';
import { until as waitUntil } from '../testkit/wait.js';
import { peerOf } from '../testkit/engines.js';

/** {@link waitUntil} checking every turn of the event loop, not on a 20 ms timer. */
const until = (cond: () => boolean, timeoutMs: number, what: string): Promise<number> => waitUntil(cond, timeoutMs, what, 0);

/**
 * The far end of a link, driven by the test: answers the handshake (sealed, like any peer of this
 * revision), records every message it receives.
 */
class RawPeer {
  readonly received: Message[] = [];
  readonly wire: RawWire;
  /** Called with each message as it arrives. */
  onMessage: (m: Message) => void = () => undefined;
  constructor(
    readonly link: Link,
    readonly id: Identity,
    caps = 0,
  ) {
    this.wire = new RawWire(id, { caps });
    link.on('frame', (body) => this.onFrame(body));
    this.sendRaw(this.wire.hello);
  }
  /** Send a message, sealed once the link is. */
  send(m: Message): void {
    this.link.send(this.wire.encode(m));
  }
  sendRaw(body: Uint8Array): void {
    this.link.send(body);
  }
  private onFrame(body: Uint8Array): void {
    const m = this.wire.receive(body, (auth) => this.sendRaw(auth));
    if (m === null) return;
    this.received.push(m);
    this.onMessage(m);
  }
  of<T extends Message['type']>(type: T): Extract<Message, { type: T }>[] {
    return this.received.filter((m): m is Extract<Message, { type: T }> => m.type === type);
  }
}

function engineWith(peers: Identity[], extra: Partial<EngineOptions> = {}): Engine {
  return new Engine({ identity: generateIdentity(), store: new MemoryStore(), trust: { mode: 'list', keys: peers.map((p) => p.publicKey) }, subscribe: false, ...extra });
}

/** Attach a raw peer to `e` and wait until the engine has authenticated it. */
async function rawPeer(e: Engine, id: Identity): Promise<RawPeer> {
  const [la, lb] = createMemoryLinkPair();
  e.attach(la);
  const p = new RawPeer(lb, id);
  await until(() => peerOf(e, id.peerId) !== undefined, 5000, 'the raw peer authenticated');
  return p;
}

t.test('a subscription is suspended with its link: resumed by the same peer, freed first for others, ended after 60 s (§9.3)', async (tt) => {
  const ids = Array.from({ length: 4 }, () => generateIdentity());
  let clock = 1_000_000;
  const e = engineWith(ids, { subscriptionCapacity: 2, now: () => clock });
  tt.teardown(() => e.close());
  // Four peers in turn subscribe and go away; with two slots, the third would be refused if the
  // slots of closed links stayed taken until they expire.
  const used = (): number => e.snapshot().subscriptions.used;
  /** Expiry is checked by each push pass: a commit runs one on the next turn. */
  const reap = async (): Promise<void> => {
    await e.commit(new TextEncoder().encode('tick'));
    await new Promise((r) => setImmediate(r));
  };
  for (const [k, id] of ids.entries()) {
    const p = await rawPeer(e, id);
    p.send({ type: 'Subscribe', remain_open: 600, max_bytes: 1 << 20, sample: [], via: [] });
    await until(() => p.received.some((m) => m.type === 'SubscribeAck' || m.type === 'Error'), 5000, 'an answer to Subscribe');
    tt.equal(p.of('SubscribeAck').length, 1, `${toHex(id.author).slice(0, 6)} granted a slot although closed links hold both`);
    await p.link.close();
    await until(() => peerOf(e, id.peerId) === undefined, 5000, 'the session gone');
    tt.equal(used(), Math.min(k + 1, 2), 'the closed link leaves its subscription suspended, not ended');
  }
  tt.equal(used(), 2, 'the two newest suspended subscriptions remain');
  // The last peer relinks within the grace: its subscription resumes and is pushed to at once.
  const last = ids[3]!;
  const back = await rawPeer(e, last);
  await e.commit(new TextEncoder().encode('while away'));
  await until(() => back.of('Push').length > 0, 5000, 'a push on the new link without a new Subscribe');
  tt.pass('the resumed subscription pushes on the new link');
  await back.link.close();
  await until(() => peerOf(e, last.peerId) === undefined, 5000, 'the session gone again');
  clock += SUSPEND_MS - 1;
  await reap();
  tt.equal(used(), 2, 'both still suspended just before the grace ends');
  clock += 1;
  await reap();
  tt.equal(used(), 0, 'every suspended subscription ends when its grace is over');
});

t.test('an Error before the link is up changes no state: the subscription still starts (§7)', async (tt) => {
  const peer = generateIdentity();
  const e = engineWith([peer], { subscribe: { remainOpenS: 600, maxBytes: 1 << 20 } });
  tt.teardown(() => e.close());
  const [la, lb] = createMemoryLinkPair();
  e.attach(la);
  // Before its Hello, the far end claims the agent's subscription was refused for a minute.
  lb.send(encodeMessage({ type: 'Error', code: ReasonCode.MaximumSubscriptionsExceeded, message: 'table full', retry_after_ms: 60_000 }));
  const p = new RawPeer(lb, peer, 1); // caps bit 0: it accepts push subscriptions
  await until(() => peerOf(e, peer.peerId) !== undefined, 5000, 'the peer authenticated');
  tt.equal(peerOf(e, peer.peerId)!.sync.refused, false, 'the requester does not count itself refused');
  // The requester subscribes after its first completed poll round: answer it (nothing to send).
  await until(() => p.of('PollRequest').length > 0, 5000, 'the first poll');
  p.send({ type: 'PollResponse', session: p.of('PollRequest')[0]!.session, more: false, total: 0, next_poll_ms: 60_000, heads: [], commands: [] });
  await until(() => p.of('Subscribe').length > 0, 5000, 'the agent subscribing once the link is up');
  tt.equal(p.of('Subscribe').length, 1, 'the pre-link Error did not hold the subscription back');
});

t.test('Keys sends the whole directory, 64 keys per message (§7)', async (tt) => {
  const others = Array.from({ length: 150 }, () => generateIdentity());
  const peer = others[0]!;
  const e = engineWith(others);
  tt.teardown(() => e.close());
  const p = await rawPeer(e, peer);
  const all = 151; // the trusted keys and the agent's own
  await until(() => p.of('Keys').reduce((n, k) => n + k.keys.length, 0) >= all, 5000, 'every key announced');
  const msgs = p.of('Keys');
  tt.ok(msgs.every((k) => k.keys.length <= 64), `${msgs.length} Keys messages of at most 64 keys`);
  const got = new Set(msgs.flatMap((k) => k.keys.map(toHex)));
  tt.equal(got.size, all, 'every key of the directory reached the peer');
  for (const o of others) if (!got.has(toHex(o.publicKey))) tt.fail(`missing ${toHex(o.publicKey)}`);
});

/** `n` parentless commands of ~`size` bytes each: `n` heads. */
function roots(n: number, size: number) {
  return Array.from({ length: n }, (_, i) => syntheticCommand([], i + 1, new Uint8Array(size - 80).fill(i)));
}

t.test('heads give way to the first command under a tight max_bytes (§8.1)', async (tt) => {
  const store = new MemoryStore();
  const cmds = roots(12, 250);
  for (const c of cmds) store.append(c);
  const responder = new PollResponder(store);
  const req: PollRequest = { type: 'PollRequest', session: 1, max_bytes: 320, heads: [], sample: [] };
  const res = responder.answer('p', req, 65536, 1000);
  tt.ok(res.commands.length >= 1, `a 320-byte budget carries a command (${cmds[0]!.bytes.length} bytes) past 10 heads`);
  tt.ok(encodeMessage(res).length <= 320, 'within the budget');
  tt.ok(res.heads.length < 10, `heads gave way: ${res.heads.length} left`);
  tt.ok(res.more, 'more left');
  // With room for them, all 10 heads stay.
  tt.equal(responder.answer('q', { ...req, max_bytes: 65536 }, 65536, 1000).heads.length, 10);

  // The device answers the same way: its one head gives way too.
  const ring = new CommandRing(16);
  const dev = roots(3, 290);
  for (const c of dev) ring.push(c.id, c.bytes);
  const rr = new RingResponder(ring);
  const dres = rr.answer(req, 320, 1000);
  tt.equal(dres.commands.length, 1, 'the device sends a command a 320-byte budget fits without its head');
  tt.ok(encodeMessage(dres).length <= 320);
  tt.equal(dres.heads.length, 0);
  tt.equal(rr.answer(req, 4096, 1000).heads.length, 1, 'with room, the head stays');
});

t.test('a poll whose budget fit nothing is not charged as idle; idle polls are (§10.2)', async (tt) => {
  const peer = generateIdentity();
  const e = engineWith([peer], { pollBucket: { capacity: 3, perSecond: 0.001 } });
  tt.teardown(() => e.close());
  await e.commit(new Uint8Array(300));
  const p = await rawPeer(e, peer);
  const poll = async (session: number, heads: Uint8Array[]): Promise<Message> => {
    const n = p.received.length;
    p.send({ type: 'PollRequest', session, max_bytes: 64, heads, sample: [] });
    await until(() => p.received.slice(n).some((m) => m.type === 'PollResponse' || m.type === 'Error'), 5000, 'an answer');
    return p.received.slice(n).find((m) => m.type === 'PollResponse' || m.type === 'Error')!;
  };
  for (let i = 1; i <= 6; i++) {
    const m = await poll(i, []);
    tt.ok(m.type === 'PollResponse' && m.commands.length === 0 && m.more, `poll ${i}: answered, nothing fit, more`);
  }
  const head = Uint8Array.from(e.store.idOf(e.store.heads()[0]!));
  // Idle polls (the requester names our head: nothing to send) spend a token each: of the three,
  // the walks above took a sliver, so two or three are answered before the bucket refuses.
  const answers: Message[] = [];
  for (let i = 7; i <= 11; i++) answers.push(await poll(i, [head]));
  const answered = answers.findIndex((m) => m.type === 'Error');
  tt.ok(answered >= 2 && answered <= 3, `idle polls answered before Busy: ${answered}`);
  const busy = answers[answered]!;
  tt.equal(busy.type === 'Error' && busy.code, ReasonCode.Busy);
  tt.ok(answers.slice(answered).every((m) => m.type === 'Error'), 'and Busy from then on');
});

t.test('no empty exhausted Push (§9.4); a budget that fit nothing is raised to at most 1,387 (§8.2)', async (tt) => {
  const store = new MemoryStore();
  for (const c of roots(1, 250)) store.append(c);
  const table = new SubscriptionTable(4);
  const slot = table.upsert('aaaaaaaaaaaaaaaa', Date.now() + 60_000, 100);
  const plan = planPush(store, table, slot, 65536, true, () => false);
  tt.equal(plan.frames.length, 0, 'no Push when not even one command fits the budget');
  tt.ok(plan.exhausted, 'the subscription is exhausted (the caller sends Error{BudgetExhausted})');
  tt.equal(table.remainingOf(slot), 100, 'nothing was charged');

  const shaper = new PollShaper(320, 3000, 0, 65536);
  const seen: number[] = [];
  for (let i = 0; i < 6; i++) {
    shaper.fitNothing();
    seen.push(shaper.budget);
  }
  tt.same(seen, [640, 1280, POLL_FIT_ANY_BYTES, POLL_FIT_ANY_BYTES, POLL_FIT_ANY_BYTES, POLL_FIT_ANY_BYTES], 'raised past a 320-byte maximum, to 1,387 and no further');
  const big = new PollShaper(65536, 3000, 0);
  big.timedOut();
  const b0 = big.budget;
  big.fitNothing();
  tt.equal(big.budget, Math.min(65536, b0 * 2), 'a larger maximum doubles as usual');
});

t.test('jitter never shortens a retry_after_ms (§10.3)', async (tt) => {
  for (const r of [0, 0.25, 0.5, 0.999]) {
    for (const retry of [100, 5000, 120_000]) {
      // Default policy: base 250 ms, ±20 %, cap 60 s; a retry_after above the cap still holds.
      const w = new ClientPacer(undefined, () => r).afterFailure(retry);
      tt.ok(w >= retry, `random ${r}: retry_after ${retry} → wait ${w}, never shorter`);
      if (retry >= 5000) tt.ok(w <= retry * 1.2 + 1, 'lengthened by at most 20 %');
    }
  }
});

/** Timers on a virtual clock: setTimeout/clearTimeout replaced while installed. */
class FakeClock {
  now = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  private nextId = 1;
  private saved: [typeof setTimeout, typeof clearTimeout] | null = null;
  install(): void {
    this.saved = [globalThis.setTimeout, globalThis.clearTimeout];
    const fake = (fn: (...a: unknown[]) => void, ms = 0, ...args: unknown[]) => {
      const id = this.nextId++;
      this.timers.set(id, { at: this.now + Math.max(0, ms), fn: () => fn(...args) });
      return { id, unref: () => undefined, ref: () => undefined, hasRef: () => false, refresh: () => undefined, [Symbol.toPrimitive]: () => id };
    };
    // A stand-in with the same call shape; Node's Timeout type is not constructible here.
    globalThis.setTimeout = fake as unknown as typeof setTimeout;
    globalThis.clearTimeout = ((h: { id?: number } | undefined) => {
      if (h?.id !== undefined) this.timers.delete(h.id);
    }) as typeof clearTimeout;
  }
  uninstall(): void {
    if (this.saved) [globalThis.setTimeout, globalThis.clearTimeout] = this.saved;
    this.saved = null;
  }
  /** Run every timer due up to `until`, in time order, letting microtasks and immediates settle. */
  async runUntil(until: number): Promise<void> {
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | null = null;
      for (const e of this.timers) if (next === null || e[1].at < next[1].at) next = e;
      if (next === null || next[1].at > until) break;
      this.timers.delete(next[0]);
      this.now = next[1].at;
      next[1].fn();
      for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    }
    this.now = until;
  }
}

/** Backoffs between consecutive timed-out polls sent at `times`, given the poll timeout. */
function gaps(times: number[]): number[] {
  return times.slice(1).map((x, i) => x - times[i]!);
}

t.test('repeated poll timeouts back off exponentially: agent (fake clock, §10.3)', async (tt) => {
  const clock = new FakeClock();
  clock.install();
  tt.teardown(() => clock.uninstall());
  const peer = generateIdentity();
  const e = engineWith([peer], { random: () => 0.5, now: () => clock.now, deadAfterTimeouts: 0, pollTimeoutMs: 1000, pollTimeoutMsPerByte: 0 });
  const [la, lb] = createMemoryLinkPair();
  e.attach(la);
  const p = new RawPeer(lb, peer); // never answers a poll
  const sentAt: number[] = [];
  p.onMessage = (m) => {
    if (m.type === 'PollRequest') sentAt.push(clock.now);
  };
  await until(() => peerOf(e, peer.peerId) !== undefined, 5000, 'authenticated');
  await clock.runUntil(600_000);
  const g = gaps(sentAt);
  clock.uninstall();
  await e.close();
  tt.comment(`gaps between unanswered polls: ${g.join(', ')} ms`);
  tt.ok(g.length >= 8, `${sentAt.length} polls in 600 s`);
  // gap = timeout + backoff, and the timeout stays within a few seconds while the backoff doubles
  // from 250 ms to the 60 s cap: the gaps grow, and the late ones are far above the early ones.
  for (let i = 1; i < Math.min(g.length, 8); i++) tt.ok(g[i]! > g[i - 1]!, `gap ${i + 1} (${g[i]}) > gap ${i} (${g[i - 1]})`);
  tt.ok(g[7]! >= 30_000, `the 8th gap (${g[7]} ms) is past 30 s (base × 2^7 = 32 s)`);
  tt.ok(Math.max(...g) <= 60_000 + 20_000, 'capped (60 s plus the timeout)');
});

t.test('repeated poll timeouts back off exponentially: device (fake clock, §10.3)', async (tt) => {
  const clock = new FakeClock();
  clock.install();
  tt.teardown(() => clock.uninstall());
  const sentAt: number[] = [];
  const sync = new DeviceSync(
    {
      send: (m) => {
        if (m.type === 'PollRequest') sentAt.push(clock.now);
      },
      head: () => null,
      has: () => false,
      sample: () => [],
      maxFrame: 4096,
    },
    false,
    1000,
  );
  sync.start(0);
  await clock.runUntil(600_000);
  sync.stop();
  clock.uninstall();
  const backoff = gaps(sentAt).map((x) => x - POLL_TIMEOUT_MS);
  tt.comment(`backoff after each timeout: ${backoff.map((x) => Math.round(x)).join(', ')} ms`);
  // ±20 % jitter on 250 × 2^n: each backoff is more than the previous one (×2 beats ×1.2/0.8).
  for (let i = 1; i < Math.min(backoff.length, 8); i++) tt.ok(backoff[i]! > backoff[i - 1]!, `backoff ${i + 1} > backoff ${i}`);
  tt.ok(backoff[0]! >= 200 && backoff[0]! <= 300, 'starts at 250 ms');
  tt.ok(Math.max(...backoff) <= 60_001, 'capped at 60 s');
});

import t from 'tap';
import { randomBytes } from 'node:crypto';
import { SerialPortStream } from '@serialport/stream';
import {
  Capability, MIN_FRAME_BYTES, MIN_POLL_BYTES, PROTOCOL_VERSION, ReasonCode, SerialFrameDecoder,
  authTranscript, decodeCbor, decodeCommand, decodeMessage, encodeBarePush, encodeCbor, encodeCommand,
  encodeMessage, encodeSerialFrame, generateIdentity, verifySignature,
  type Command, type Identity, type Message, type PollResponse,
} from '../protocol/index.js';
import { type SimBinding, type SimLink, SimRegistry, createSimBinding, createSimLink } from '../firmware-sim/uart/index.js';
import { CommandRing, DeviceKeyTable, RingResponder, SimDevice, attachDeviceToSerialPort } from '../firmware-sim/device/index.js';

type Port = SerialPortStream<SimBinding>;
type Test = { teardown(fn: () => void | Promise<void>): void };
type Of<T extends Message['type']> = Extract<Message, { type: T }>;

// Every device timer is unref'd and an idle simulated line holds none: keep the test process
// alive while it awaits events.
const keepAlive = setInterval(() => undefined, 60_000);
t.teardown(() => clearInterval(keepAlive));

const BAUD = 115_200;
const PA = '/dev/devA';
const PB = '/dev/devB';

function openPort(binding: SimBinding, path: string): Promise<Port> {
  return new Promise((resolve, reject) => {
    const port: Port = new SerialPortStream({ binding, path, baudRate: BAUD }, (err) => (err ? reject(err) : resolve(port)));
  });
}

function closePort(port: Port): Promise<void> {
  return new Promise((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve()));
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A fresh simulated null-modem cable with a port open on each end. */
async function cable(tt: Test): Promise<{ link: SimLink; binding: SimBinding; a: Port; b: Port }> {
  const registry = new SimRegistry();
  const link = createSimLink({ pathA: PA, pathB: PB, registry, baudRate: BAUD });
  const binding = createSimBinding(registry);
  const a = await openPort(binding, PA);
  const b = await openPort(binding, PB);
  const ports = [a, b];
  tt.teardown(async () => {
    for (const p of ports) await closePort(p);
    link.dispose();
  });
  return { link, binding, a, b };
}

/** Two devices trusting each other, wired back-to-back over a cable. */
async function pair(tt: Test, optsA: ConstructorParameters<typeof SimDevice>[0] = {}, optsB: ConstructorParameters<typeof SimDevice>[0] = {}) {
  const c = await cable(tt);
  const idA = generateIdentity();
  const idB = generateIdentity();
  const A = new SimDevice({ identity: idA, trustedKeys: [idB.publicKey], ...optsA });
  const B = new SimDevice({ identity: idB, trustedKeys: [idA.publicKey], ...optsB });
  tt.teardown(() => {
    A.stop();
    B.stop();
  });
  const readyA = new Promise<Uint8Array>((r) => A.once('ready', r));
  const readyB = new Promise<Uint8Array>((r) => B.once('ready', r));
  const attA = attachDeviceToSerialPort(A, c.a);
  const attB = attachDeviceToSerialPort(B, c.b);
  return { ...c, idA, idB, A, B, attA, attB, readyA, readyB };
}

/** A peer scripted from protocol/ encoders: reads and writes frames on a raw port. */
class Scripted {
  readonly queue: { msg: Message; size: number }[] = [];
  badFrames = 0;
  private readonly decoder = new SerialFrameDecoder();
  readonly nonce = randomBytes(16);

  constructor(readonly port: Port, readonly identity: Identity = generateIdentity()) {
    port.on('error', () => undefined);
    port.on('data', (chunk: Buffer) => {
      const r = this.decoder.push(chunk);
      this.badFrames += r.errors.length;
      for (const f of r.frames) {
        try {
          this.queue.push({ msg: decodeMessage(f), size: f.length });
        } catch {
          this.badFrames++;
        }
      }
    });
  }

  send(msg: Message): void {
    this.sendBody(encodeMessage(msg));
  }

  sendBody(body: Uint8Array): void {
    this.port.write(Buffer.from(encodeSerialFrame(body)));
  }

  sendRaw(bytes: Uint8Array): void {
    this.port.write(Buffer.from(bytes));
  }

  /** The next message of `type` (earlier ones of other types stay queued), with its body size. */
  async take<T extends Message['type']>(type: T, timeoutMs = 3000): Promise<{ msg: Of<T>; size: number }> {
    let found: { msg: Of<T>; size: number } | undefined;
    await until(() => {
      const i = this.queue.findIndex((e) => e.msg.type === type);
      if (i >= 0) found = this.queue.splice(i, 1)[0] as { msg: Of<T>; size: number };
      return found !== undefined;
    }, timeoutMs, type);
    return found!;
  }

  /** Nothing of `type` arrives within `ms`. */
  async none(type: Message['type'], ms: number): Promise<boolean> {
    await new Promise((r) => setTimeout(r, ms));
    return !this.queue.some((e) => e.msg.type === type);
  }

  /** Complete the handshake as an agent announcing `caps`; returns the device's Hello. */
  async handshake(caps: number): Promise<Of<'Hello'>> {
    const { msg: hello } = await this.take('Hello');
    this.send({ type: 'Hello', version: PROTOCOL_VERSION, public_key: this.identity.publicKey, max_frame: 65536, caps, nonce: this.nonce });
    this.send({ type: 'Auth', signature: this.identity.sign(authTranscript(hello.nonce, hello.public_key, this.identity.publicKey)) });
    const { msg: auth } = await this.take('Auth');
    if (!verifySignature(hello.public_key, authTranscript(this.nonce, this.identity.publicKey, hello.public_key), auth.signature)) {
      throw new Error('device Auth does not verify');
    }
    return hello;
  }

  /** A command by this peer. */
  command(payload: Uint8Array, parents: Uint8Array[] = [], seq = 1): Command {
    return encodeCommand({ parents, author: this.identity.author, seq, payload }, this.identity.sign);
  }
}

function sameBytes(a: Uint8Array | null, b: Uint8Array | null): boolean {
  return a !== null && b !== null && Buffer.from(a).equals(Buffer.from(b));
}

t.test('ring: fixed capacity, dedupe, exponential sample; key table pins trusted keys', async (tt) => {
  const id = generateIdentity();
  const ring = new CommandRing(8);
  const cmds: Command[] = [];
  for (let i = 0; i < 20; i++) {
    const c = encodeCommand({ parents: cmds.length ? [cmds[cmds.length - 1]!.id] : [], author: id.author, seq: i + 1, payload: Uint8Array.of(i) }, id.sign);
    cmds.push(c);
    tt.equal(ring.push(c.id, c.bytes), true);
    tt.ok(ring.count <= 8);
  }
  tt.equal(ring.count, 8);
  tt.equal(ring.push(cmds[19]!.id, cmds[19]!.bytes), false, 'duplicate refused');
  {
    // Own commands no peer holds yet are never pushed out by received ones.
    const small = new CommandRing(2);
    small.push(cmds[0]!.id, cmds[0]!.bytes);
    small.push(cmds[1]!.id, cmds[1]!.bytes);
    tt.equal(small.push(cmds[2]!.id, cmds[2]!.bytes, false), false, 'a received command does not evict an unsynced own one');
    tt.equal(small.refused, 1);
    small.markHeld(0);
    tt.equal(small.push(cmds[2]!.id, cmds[2]!.bytes, false), true, 'once a peer holds it, it may go');
    // Ring: [own 1 (unheld), received 2]. A new own command drops the received one, not own 1.
    tt.equal(small.push(cmds[3]!.id, cmds[3]!.bytes), true, 'an own command always fits');
    tt.ok(small.has(cmds[1]!.id) && small.has(cmds[3]!.id) && !small.has(cmds[2]!.id), 'the held entry made room');
    tt.equal(small.lostOwn, 0);
    tt.equal(small.push(cmds[4]!.id, cmds[4]!.bytes), true);
    tt.equal(small.lostOwn, 1, 'with nothing held left, evicting an unsynced own command is counted');
    tt.same([small.idAt(0), small.idAt(1)].map((x) => Buffer.from(x).toString('hex')), [cmds[3]!.id, cmds[4]!.id].map((x) => Buffer.from(x).toString('hex')), 'order kept');
  }
  tt.equal(ring.indexOf(cmds[11]!.id), -1, 'evicted');
  tt.equal(ring.indexOf(cmds[12]!.id), 0, 'oldest held');
  tt.ok(sameBytes(ring.newestId(), cmds[19]!.id));
  tt.ok(Buffer.from(ring.bytesAt(3)).equals(Buffer.from(cmds[15]!.bytes)));
  const parents: Uint8Array[] = [];
  ring.forEachParent(3, (p) => parents.push(Uint8Array.from(p)));
  tt.same(parents, [cmds[14]!.id], 'parents parsed in place');
  const sample = ring.sample(12).map((s) => ring.indexOf(s));
  tt.same(sample, [7, 6, 5, 3, 0], 'newest, then 1, 2, 4 back, then the oldest');
  tt.throws(() => new CommandRing(0), RangeError);

  const other = generateIdentity();
  const keys = new DeviceKeyTable([id.publicKey], 3);
  tt.ok(keys.isTrusted(id.publicKey));
  tt.notOk(keys.isTrusted(other.publicKey));
  for (let i = 0; i < 5; i++) keys.learn(generateIdentity().publicKey);
  tt.ok(sameBytes(keys.keyOf(id.author), id.publicKey), 'pinned key survives learning');
  keys.learn(other.publicKey);
  tt.ok(sameBytes(keys.keyOf(other.author), other.publicKey));
  tt.notOk(keys.isTrusted(other.publicKey), 'learnt keys are not trusted peers');
});

t.test('poll answer: exact budget, oldest first, side branches not skipped', async (tt) => {
  const id = generateIdentity();
  const ring = new CommandRing(64);
  const responder = new RingResponder(ring);
  const chain: Command[] = [];
  for (let i = 0; i < 40; i++) {
    const c = encodeCommand({ parents: chain.length ? [chain[chain.length - 1]!.id] : [], author: id.author, seq: i + 1, payload: randomBytes(20 + ((i * 97) % 700)) }, id.sign);
    chain.push(c);
    ring.push(c.id, c.bytes);
  }
  const req = (heads: Uint8Array[], sample: Uint8Array[] = [], max = 65536) => ({ type: 'PollRequest' as const, session: 9, max_bytes: max, heads, sample });
  const problems: string[] = [];
  let cuts = 0;
  // Below one command's size the answer is empty with `more` (the requester must raise its budget).
  const tiny = responder.answer(req([]), MIN_POLL_BYTES, 1000);
  tt.ok(encodeMessage(tiny).length <= MIN_POLL_BYTES && tiny.commands.length === 0 && tiny.more, 'a budget too small for any command: empty answer, more');
  for (let limit = MIN_FRAME_BYTES; limit < 20_000; limit += 173) {
    const res = responder.answer(req([]), limit, 1000);
    const size = encodeMessage(res).length;
    if (size > limit) problems.push(`answer of ${size} over ${limit}`);
    if (res.commands.length === 0) problems.push(`nothing fits ${limit}`);
    if (res.more) {
      cuts++;
      const next = chain[res.commands.length]!.bytes;
      if (encodeMessage({ ...res, commands: [...res.commands, next] }).length <= limit) problems.push(`cut early at ${limit}`);
    }
    if (!res.commands.every((c, i) => Buffer.from(c).equals(Buffer.from(chain[i]!.bytes)))) problems.push(`order at ${limit}`);
  }
  tt.same(problems, [], 'every budget: within it, cut only when one more would not fit, oldest first');
  tt.ok(cuts > 50, `budgets that cut the answer: ${cuts}`);
  const all = responder.answer(req([]), 65536, 1000);
  tt.equal(all.commands.length, 40);
  tt.equal(all.more, false);
  tt.equal(all.total, 40);
  tt.equal(all.session, 9);
  tt.ok(sameBytes(all.heads[0]!, chain[39]!.id));
  const after = responder.answer(req([chain[30]!.id]), 65536, 1000);
  tt.equal(after.commands.length, 9, 'a linear history: the entries after the named head');
  tt.equal(responder.answer(req([], [chain[35]!.id, chain[2]!.id]), 65536, 1000).commands.length, 4, 'a sample hit counts too');
  // The uplink named chain[35] once: the device remembers it holds 0..35 and never resends them.
  tt.equal(responder.answer(req([randomBytes(32)]), 65536, 1000).commands.length, 4, 'nothing named: only what the uplink was never seen to hold');

  // A side branch: an order received after c39, then more of the peer's chain on top of c39.
  const peer = generateIdentity();
  const order = encodeCommand({ parents: [chain[39]!.id], author: peer.author, seq: 1, payload: Uint8Array.of(1) }, peer.sign);
  ring.push(order.id, order.bytes);
  const c40 = encodeCommand({ parents: [chain[39]!.id], author: id.author, seq: 41, payload: Uint8Array.of(2) }, id.sign);
  ring.push(c40.id, c40.bytes);
  const side = responder.answer(req([c40.id]), 65536, 1000);
  tt.equal(side.commands.length, 1, 'the requester named c40 only');
  tt.ok(Buffer.from(side.commands[0]!).equals(Buffer.from(order.bytes)), 'the order on the side branch is still sent');
});

t.test('two devices back to back: handshake, telemetry via polls, orders, ring bound', async (tt) => {
  const p = await pair(tt, { pollMs: 100, ringSize: 8, telemetryMs: 5000 }, { pollMs: 100, telemetryMs: 60 });
  const { A, B, idA, idB } = p;
  tt.ok(sameBytes(await p.readyA, idB.publicKey), 'A authenticated B');
  tt.ok(sameBytes(await p.readyB, idA.publicKey), 'B authenticated A');
  tt.equal(A.state, 'up');
  tt.equal(A.sync.subscribed, false, 'no subscription: B does not announce Push');

  let maxA = 0;
  A.on('command', () => (maxA = Math.max(maxA, A.ring.count)));
  const fromB: string[] = [];
  B.on('commit', (c) => fromB.push(Buffer.from(c.id).toString('hex')));
  B.start();
  await until(() => A.stats.commandsReceived >= 20, 8000, 'telemetry at A');
  tt.equal(maxA, 8, 'the ring of 8 never held more than 8');
  tt.equal(A.ring.count, 8);
  const held = Array.from({ length: 8 }, (_, i) => Buffer.from(A.ring.idAt(i)).toString('hex'));
  const pos = held.map((h) => fromB.indexOf(h));
  tt.ok(pos.every((x) => x >= 0), 'A holds B commits');
  tt.same([...pos].sort((x, y) => x - y), pos, 'in commit order');
  const last = decodeCommand(A.ring.bytesAt(7));
  const payload = decodeCbor(last.payload) as [string, number, number];
  tt.equal(payload[0], B.peerId, 'telemetry payload: [peer id, counter, reading]');
  tt.equal(typeof payload[1], 'number');
  tt.equal(A.stats.orders, 0, "B's telemetry is not an order for A");
  tt.equal(A.stats.rejectedCommands, 0);

  // An order from A to B, committed while B's telemetry keeps arriving at A.
  const got = new Promise<Uint8Array>((r) => B.once('order', (pl) => r(pl)));
  const order = A.commit(encodeCbor([B.peerId, 'valve', 1]));
  tt.ok(sameBytes(A.head, order.id), "A's head is its own last command");
  tt.same(decodeCbor(await got), [B.peerId, 'valve', 1], 'B got the order');
  tt.equal(B.stats.orders, 1);
  tt.ok(B.stats.pollsAnswered > 0 && A.stats.pollsAnswered > 0, 'both answered polls');
  tt.equal(B.stats.badFrames + A.stats.badFrames, 0);
  tt.ok(A.stats.bytesIn > 0 && A.stats.framesOut > 0 && B.stats.commits >= 20);
});

t.test('hostile input: garbage, bad CRC, bad signature, unknown author; the session carries on', async (tt) => {
  // Unsealed, so that the injected plain frames reach the message layer (device-seal.test.ts
  // covers the sealed link, where they are dropped unread).
  const p = await pair(tt, { pollMs: 100, telemetryMs: 5000, seal: 'off' }, { telemetryMs: 50, seal: 'off' });
  const { A, B, idB } = p;
  await p.readyA;
  await p.readyB;
  B.start();
  await until(() => A.stats.commandsReceived >= 3, 4000, 'first telemetry');
  const rejected: string[] = [];
  A.on('rejected', (why) => rejected.push(why));
  const bPeerErrors: number[] = [];
  B.on('peer-error', (e) => bPeerErrors.push(e.code));
  const raw = (bytes: Uint8Array) => p.b.write(Buffer.from(bytes));

  // Line noise: random bytes (with zeros), a frame with one flipped bit, an oversize frame.
  raw(Buffer.concat([randomBytes(300), Buffer.of(0)]));
  const flipped = encodeSerialFrame(encodeMessage({ type: 'Unsubscribe' }));
  flipped[1]! ^= 0x04;
  raw(flipped);
  raw(encodeSerialFrame(randomBytes(3000).map((x) => x | 1)));
  // A CRC-valid frame that is no message: dropped, answered with Error Malformed.
  raw(encodeSerialFrame(Uint8Array.of(0x83, 1, 2, 3)));

  const stranger = generateIdentity();
  const head = A.head!;
  // Claims B as author but is signed by someone else.
  const forged = encodeCommand({ parents: [head], author: idB.author, seq: 99_999, payload: encodeCbor([A.peerId, 'open']) }, stranger.sign);
  raw(encodeSerialFrame(encodeMessage({ type: 'Push', remaining: null, exhausted: false, commands: [forged.bytes] })));
  // Properly signed, by an author A does not know, as a bare-command push.
  const unknown = encodeCommand({ parents: [head], author: stranger.author, seq: 1, payload: encodeCbor([A.peerId, 'open']) }, stranger.sign);
  raw(encodeSerialFrame(encodeBarePush(unknown.bytes)));
  // Not a command at all.
  raw(encodeSerialFrame(encodeMessage({ type: 'Push', remaining: 10, exhausted: false, commands: [Uint8Array.of(0x85, 1)] })));
  // A genuine order from B as a bare-command push: stored and counted.
  const orderSeen = new Promise<Uint8Array>((r) => A.once('order', (pl) => r(pl)));
  const genuine = encodeCommand({ parents: [head], author: idB.author, seq: 100_000, payload: encodeCbor([A.peerId, 'open']) }, idB.sign);
  raw(encodeSerialFrame(encodeBarePush(genuine.bytes)));

  tt.same(decodeCbor(await orderSeen), [A.peerId, 'open'], 'bare-command push accepted');
  await until(() => rejected.length >= 3, 3000, 'rejections');
  tt.same(rejected.sort(), ['bad-signature', 'malformed', 'unknown-author']);
  tt.ok(A.stats.badFrames >= 4, `bad frames counted (${A.stats.badFrames})`);
  tt.notOk(A.ring.has(forged.id), 'forged command not stored');
  tt.notOk(A.ring.has(unknown.id), 'unknown author not stored');
  tt.ok(A.ring.has(genuine.id));
  tt.equal(A.stats.orders, 1);
  await until(() => bPeerErrors.includes(ReasonCode.Malformed), 3000, 'Error Malformed at B');

  const before = A.stats.commandsReceived;
  await until(() => A.stats.commandsReceived >= before + 3, 4000, 'telemetry after the noise');
  tt.equal(A.state, 'up', 'session still up');
  tt.equal(B.state, 'up');
});

t.test('refusals: untrusted key gets Error Unauthorized, other versions UnsupportedVersion', async (tt) => {
  const c = await cable(tt);
  const trusted = generateIdentity();
  const A = new SimDevice({ trustedKeys: [trusted.publicKey] });
  const C = new SimDevice({ trustAny: true }); // trusts A, but A does not trust C
  tt.teardown(() => (A.stop(), C.stop()));
  let aReady = false;
  A.on('ready', () => (aReady = true));
  const cErr = new Promise<number>((r) => C.once('peer-error', (e) => r(e.code)));
  attachDeviceToSerialPort(A, c.a);
  attachDeviceToSerialPort(C, c.b);
  tt.equal(await cErr, ReasonCode.Unauthorized, 'C is told Unauthorized');
  tt.equal(A.state, 'refused');
  tt.notOk(aReady);
  tt.not(C.state, 'up');

  // A raw peer (legacy: no ephemeral key, so the device runs with seal off): wrong version, then
  // a trusted key with a forged Auth.
  const c2 = await cable(tt);
  const D = new SimDevice({ trustedKeys: [trusted.publicKey], seal: 'off' });
  tt.teardown(() => D.stop());
  const peer = new Scripted(c2.b, trusted);
  attachDeviceToSerialPort(D, c2.a);
  const { msg: hello } = await peer.take('Hello');
  tt.equal(hello.version, PROTOCOL_VERSION);
  tt.equal(hello.caps, Capability.BareCommand, 'announces bare commands, not Push');
  tt.equal(hello.max_frame, 2048);
  peer.send({ type: 'Hello', version: PROTOCOL_VERSION + 1, public_key: trusted.publicKey, max_frame: 65536, caps: 0, nonce: peer.nonce });
  tt.equal((await peer.take('Error')).msg.code, ReasonCode.UnsupportedVersion);
  peer.send({ type: 'Hello', version: PROTOCOL_VERSION, public_key: trusted.publicKey, max_frame: 65536, caps: 0, nonce: peer.nonce });
  const { msg: again } = await peer.take('Hello');
  tt.notSame(again.nonce, hello.nonce, 'a fresh challenge after the refusal');
  await peer.take('Auth');
  peer.send({ type: 'Auth', signature: trusted.sign(authTranscript(hello.nonce, hello.public_key, trusted.publicKey)) });
  tt.equal((await peer.take('Error')).msg.code, ReasonCode.Unauthorized, 'Auth over a stale nonce is refused');
  tt.equal(D.state, 'refused');
  peer.send({ type: 'PollRequest', session: 1, max_bytes: 4096, heads: [], sample: [] });
  tt.match((await peer.take('Error')).msg, { code: ReasonCode.Unauthorized, message: 'authenticate first' });
  tt.ok(await peer.none('PollResponse', 150), 'nothing is served before authentication');
});

t.test('against a scripted agent: subscribe, renew, budget, fallback to polling, exact poll answers', async (tt) => {
  const c = await cable(tt);
  const agent = new Scripted(c.b);
  // The scripted agent is a legacy peer (no ephemeral key, v1 transcript): seal off.
  const D = new SimDevice({ trustedKeys: [agent.identity.publicKey], telemetryMs: 700, seal: 'off' });
  tt.teardown(() => D.stop());
  for (let i = 0; i < 3; i++) D.commit(encodeCbor([D.peerId, i, 2000]));
  attachDeviceToSerialPort(D, c.a);
  await agent.handshake(Capability.Push | Capability.BareCommand);

  const { msg: sub } = await agent.take('Subscribe');
  tt.match(sub, { remain_open: 60, max_bytes: 16384 });
  tt.same(sub.via, []);
  tt.equal(sub.sample.length, 3);
  tt.ok(sameBytes(sub.sample[0]!, D.head), 'sample starts at the head');

  // Renewal at 80 % of the granted time.
  const t0 = performance.now();
  agent.send({ type: 'SubscribeAck', remain_open: 1, max_bytes: 5000 });
  await agent.take('Subscribe', 2000);
  const renewedAfter = performance.now() - t0;
  tt.ok(renewedAfter >= 750 && renewedAfter < 1500, `renewed after ${Math.round(renewedAfter)} ms`);

  // Pushes: an envelope push that exhausts the budget → immediate renewal; orders counted.
  agent.send({ type: 'SubscribeAck', remain_open: 60, max_bytes: 16384 });
  await until(() => D.sync.subscribed, 1000, 'subscribed');
  const o1 = agent.command(encodeCbor([D.peerId, 'led', 1]), [D.head!], 1);
  agent.send({ type: 'Push', remaining: 0, exhausted: true, commands: [o1.bytes] });
  await agent.take('Subscribe', 500);
  tt.equal(D.stats.orders, 1);
  tt.ok(D.ring.has(o1.id));
  agent.send({ type: 'SubscribeAck', remain_open: 60, max_bytes: 16384 });
  const o2 = agent.command(encodeCbor(['someone-else', 'led', 0]), [o1.id], 2);
  agent.sendBody(encodeBarePush(o2.bytes));
  await until(() => D.ring.has(o2.id), 1000, 'bare push stored');
  tt.equal(D.stats.orders, 1, 'an order for another device is stored, not counted');
  tt.ok(D.sync.budget < 16384 && D.sync.budget >= 16384 - o2.bytes.length, 'bare push charged against the budget');
  agent.send({ type: 'Error', code: ReasonCode.BudgetExhausted, message: 'budget', retry_after_ms: null });
  await agent.take('Subscribe', 500);

  // A gap: a pushed command whose parent the device lacks triggers a poll.
  const orphan = agent.command(Uint8Array.of(1), [randomBytes(32)], 3);
  agent.send({ type: 'Push', remaining: 9000, exhausted: false, commands: [orphan.bytes] });
  const { msg: gapPoll } = await agent.take('PollRequest', 1000);
  agent.send({ type: 'PollResponse', session: gapPoll.session, more: false, total: 0, next_poll_ms: 1000, heads: [], commands: [] });

  // The agent's table is full: fall back to polling every max(retry_after_ms, 1000).
  agent.send({ type: 'Error', code: ReasonCode.MaximumSubscriptionsExceeded, message: 'full', retry_after_ms: 1200 });
  const { msg: p1 } = await agent.take('PollRequest', 1000);
  const t1 = performance.now();
  tt.equal(p1.max_bytes, 2048, 'polls for its own frame size');
  tt.ok(sameBytes(p1.heads[0]!, D.head), 'heads = the device head');
  tt.ok(!p1.sample.some((s) => sameBytes(s, D.head)), 'the head is not repeated in the sample');
  const o3 = agent.command(encodeCbor([D.peerId, 'fan', 3]), [D.head!], 4);
  agent.send({ type: 'PollResponse', session: p1.session, more: true, total: 10, next_poll_ms: 1000, heads: [o3.id], commands: [o3.bytes] });
  const { msg: p2 } = await agent.take('PollRequest', 500);
  tt.ok(performance.now() - t1 < 500, 'more = true: polls again at once');
  tt.ok(sameBytes(p2.heads[0]!, o3.id), 'continuing from what it got');
  tt.equal(D.stats.orders, 2);
  tt.ok(p2.sample.length === 0 || !p2.sample.some((x) => sameBytes(x, o3.id)), 'the head is not repeated in the sample');
  // A stale answer (wrong session) is ignored, commands and all.
  const stale = agent.command(encodeCbor([D.peerId, 'stale', 0]), [o3.id], 5);
  agent.send({ type: 'PollResponse', session: p2.session + 100, more: false, total: 10, next_poll_ms: 1000, heads: [], commands: [stale.bytes] });
  agent.send({ type: 'PollResponse', session: p2.session, more: false, total: 10, next_poll_ms: 1500, heads: [o3.id], commands: [] });
  await agent.take('PollRequest', 2500);
  const period = performance.now() - t1;
  tt.ok(period >= 0.8 * 1500 - 50, `next periodic poll after ${Math.round(period)} ms: next_poll_ms 1500 > 1200 wins`);
  tt.match(D.sync, { mode: 'fallback', pollPeriod: 1200 });
  await agent.take('Subscribe', 2000); // tries again after retry_after_ms

  tt.notOk(D.ring.has(stale.id), 'stale response ignored');

  // The device answers polls from its ring, within the budget to the byte.
  for (let i = 0; i < 6; i++) D.commit(randomBytes(500));
  const total = D.ring.count;
  // What the agent sent the device (and those commands' ring ancestors) it holds: only the
  // device's own commands the agent was never seen to hold come back, oldest first.
  const unheld = [...Array(total).keys()].filter((i) => !D.ring.isHeld(i)).map((i) => Buffer.from(D.ring.bytesAt(i)).toString('hex'));
  const fresh = [...Array(6).keys()].map((k) => Buffer.from(D.ring.idAt(total - 6 + k)).toString('hex'));
  agent.send({ type: 'PollRequest', session: 77, max_bytes: MIN_FRAME_BYTES, heads: [], sample: [] });
  const { msg: r1, size } = await agent.take('PollResponse');
  tt.ok(size <= MIN_FRAME_BYTES, `answer of ${size} bytes within ${MIN_FRAME_BYTES}`);
  tt.match(r1, { session: 77, more: true, total, next_poll_ms: 700 });
  tt.ok(sameBytes(r1.heads[0]!, D.head));
  const order = r1.commands.map((cmd) => unheld.indexOf(Buffer.from(cmd).toString('hex')));
  tt.ok(order.every((x, i) => x >= 0 && (i === 0 || x > order[i - 1]!)), 'only unheld own commands, oldest first');
  let last = r1 as PollResponse;
  const received = r1.commands.map((b) => decodeCommand(b).id);
  while (last.more) {
    // Like an agent: its newest command as head, what it holds as the sample.
    agent.send({ type: 'PollRequest', session: 78, max_bytes: MIN_FRAME_BYTES, heads: [received[received.length - 1]!], sample: received.slice(-100) });
    const next = await agent.take('PollResponse');
    tt.ok(next.size <= MIN_FRAME_BYTES);
    tt.ok(next.msg.commands.length > 0, 'progress');
    received.push(...next.msg.commands.map((b) => decodeCommand(b).id));
    last = next.msg;
  }
  const got = received.map((id) => Buffer.from(id).toString('hex'));
  tt.ok(fresh.every((id) => got.includes(id)), 'every new own command arrived');
  tt.equal(new Set(got).size, got.length, 'in chunks, exactly once');

  agent.send({ type: 'PollRequest', session: 79, max_bytes: MIN_POLL_BYTES - 1, heads: [], sample: [] });
  tt.equal((await agent.take('Error')).msg.code, ReasonCode.Malformed, 'a budget below the minimum is refused');
  agent.send({ type: 'Subscribe', remain_open: 60, max_bytes: 4096, sample: [], via: [] });
  const { msg: noSub } = await agent.take('Error');
  tt.match(noSub, { code: ReasonCode.MaximumSubscriptionsExceeded, retry_after_ms: 700 }, 'the device takes no subscriptions');
  tt.equal(agent.badFrames, 0);
});

t.test('handshake survives a Hello lost to a port that was not open yet', async (tt) => {
  const registry = new SimRegistry();
  const link = createSimLink({ pathA: PA, pathB: PB, registry, baudRate: BAUD });
  const binding = createSimBinding(registry);
  const idA = generateIdentity();
  const idB = generateIdentity();
  const A = new SimDevice({ identity: idA, trustedKeys: [idB.publicKey], handshakeRetryMs: 150 });
  const B = new SimDevice({ identity: idB, trustedKeys: [idA.publicKey], handshakeRetryMs: 150 });
  const a = await openPort(binding, PA);
  let b: Port | undefined;
  tt.teardown(async () => {
    A.stop();
    B.stop();
    await closePort(a);
    if (b) await closePort(b);
    link.dispose();
  });
  const ready = Promise.all([new Promise((r) => A.once('ready', r)), new Promise((r) => B.once('ready', r))]);
  attachDeviceToSerialPort(A, a);
  await until(() => link.stats().aToB.discarded > 0, 1000, "A's Hello to land nowhere");
  b = await openPort(binding, PB);
  attachDeviceToSerialPort(B, b);
  await ready;
  tt.equal(A.state, 'up');
  tt.equal(B.state, 'up');
  // Retries may cross on the wire and cost a few extra frames, but they stop once both are up.
  await new Promise((r) => setTimeout(r, 50));
  const settled = A.stats.framesOut + B.stats.framesOut;
  tt.ok(settled <= 16, `handshake took ${settled} frames`);
  await new Promise((r) => setTimeout(r, 400));
  tt.equal(A.stats.framesOut + B.stats.framesOut, settled, 'quiet after the handshake (no retry storm)');
  tt.equal(A.state, 'up', 'still up after the retry period');
});

t.test('serial wiring: port close/reopen and unplug/replace restart the handshake', async (tt) => {
  const p = await pair(tt, { pollMs: 100 }, { telemetryMs: 30 });
  const { A, B } = p;
  await p.readyA;
  await p.readyB;
  let downA = 0;
  let downB = 0;
  A.on('down', () => downA++);
  B.on('down', () => downB++);
  B.start();

  await closePort(p.a);
  await until(() => downA === 1, 1000, 'A down');
  tt.equal(A.state, 'idle');
  const readyA = new Promise((r) => A.once('ready', r));
  const readyB = new Promise((r) => B.once('ready', r));
  p.a.open();
  await readyA;
  await readyB;
  tt.equal(downB, 1, 'B saw the second Hello and started over');
  const n = A.stats.commandsReceived;
  await until(() => A.stats.commandsReceived > n, 3000, 'telemetry after reopen');

  // Pull the cable: both ports die; plug it back and give each device a fresh port.
  p.link.unplug();
  await until(() => A.state === 'idle' && B.state === 'idle', 2000, 'both sessions reset');
  p.link.replug();
  const a2 = await openPort(p.binding, PA);
  const b2 = await openPort(p.binding, PB);
  tt.teardown(async () => {
    await closePort(a2);
    await closePort(b2);
  });
  const readyA2 = new Promise((r) => A.once('ready', r));
  const readyB2 = new Promise((r) => B.once('ready', r));
  p.attA.replace(a2);
  p.attB.replace(b2);
  await readyA2;
  await readyB2;
  tt.equal(p.attA.port, a2);
  const m = A.stats.commandsReceived;
  await until(() => A.stats.commandsReceived > m, 3000, 'telemetry on the new ports');
  p.attA.detach();
  tt.equal(A.state, 'idle');
  tt.equal(p.attA.port, null);
});

/**
 * Sealed links of the simulated device (issue 13, PROTOCOL.md §7.1–§7.6): two handshake state
 * machines against each other, two devices on an in-memory wire, and a device against a peer
 * driven by hand from protocol/seal.ts (the byte-level view an attacker on the line has).
 */
import t from 'tap';
import fc from 'fast-check';
import {
  Capability, MIN_FRAME_BYTES, PROTOCOL_VERSION, ReasonCode, SEAL_MARKER, SEAL_OVERHEAD, SEAL_REKEY_AT,
  authTranscript, authTranscriptV2, decodeMessage, deriveSealKeys, encodeBarePush, encodeCbor, encodeCommand,
  encodeMessage, ephemeralFromSecret, generateIdentity, isSealed, sealFrame, verifySignature,
  Opener, Sealer,
  type EphemeralKey, type Hello, type Identity, type Message, type SealPolicy,
} from '../protocol/index.js';
import { randomBytes } from 'node:crypto';
import { DeviceHandshake, SimDevice, type DeviceLink, type DeviceOptions, type Outgoing } from '../firmware-sim/device/index.js';

const keepAlive = setInterval(() => undefined, 60_000);
t.teardown(() => clearInterval(keepAlive));

const POLICIES: SealPolicy[] = ['require', 'prefer', 'off'];
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const kind = (body: Uint8Array): string => (isSealed(body) ? 'sealed' : decodeMessage(body).type);

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Deliver handshake output between two state machines until both are quiet; `tamper` may rewrite A→B bodies. */
function runHandshakes(a: DeviceHandshake, b: DeviceHandshake, tamper: (body: Uint8Array) => Uint8Array = (x) => x): void {
  const queue: { to: DeviceHandshake; body: Uint8Array }[] = [];
  const post = (to: DeviceHandshake, out: Outgoing[]): void => {
    for (const o of out) queue.push({ to, body: to === b ? tamper(o.body) : o.body });
  };
  post(b, [{ type: 'Hello', body: a.open() }]);
  post(a, [{ type: 'Hello', body: b.open() }]);
  for (let n = 0; queue.length > 0; n++) {
    if (n > 50) throw new Error('handshakes do not settle');
    const { to, body } = queue.shift()!;
    const msg = decodeMessage(body);
    const step = msg.type === 'Hello' ? to.onHello(body, msg) : msg.type === 'Auth' ? to.onAuth(msg) : { send: [], up: false };
    post(to === a ? b : a, step.send);
  }
}

function handshakes(policyA: SealPolicy, policyB: SealPolicy) {
  const idA = generateIdentity();
  const idB = generateIdentity();
  const a = new DeviceHandshake(idA, 2048, (k) => hex(k) === hex(idB.publicKey), { policy: policyA });
  const b = new DeviceHandshake(idB, 2048, (k) => hex(k) === hex(idA.publicKey), { policy: policyB });
  return { a, b, idA, idB };
}

t.test('two handshakes: every policy pair, keys agree, exact Hello bytes', async (tt) => {
  for (const pa of POLICIES) {
    for (const pb of POLICIES) {
      const { a, b } = handshakes(pa, pb);
      runHandshakes(a, b);
      const label = `${pa} × ${pb}`;
      if ((pa === 'require' && pb === 'off') || (pa === 'off' && pb === 'require')) {
        // §7.2: the require side refuses; the off side never gets its Auth.
        tt.equal((pa === 'require' ? a : b).state, 'refused', `${label}: the require side refuses`);
        tt.not((pa === 'require' ? b : a).state, 'up', `${label}: the off side is not up`);
        continue;
      }
      tt.equal(a.state, 'up', `${label}: A up`);
      tt.equal(b.state, 'up', `${label}: B up`);
      const sealed = pa !== 'off' && pb !== 'off';
      tt.equal(a.sealed && b.sealed, sealed, `${label}: sealed iff neither is off`);
      if (sealed) {
        tt.equal(hex(a.keys!.send), hex(b.keys!.receive), `${label}: A→B key agreed`);
        tt.equal(hex(a.keys!.receive), hex(b.keys!.send), `${label}: B→A key agreed`);
        tt.not(hex(a.keys!.send), hex(a.keys!.receive), `${label}: one key per direction`);
        tt.equal(hex(a.keys!.transcriptHash), hex(b.keys!.transcriptHash));
      }
    }
  }
  const { a } = handshakes('prefer', 'prefer');
  const h1 = a.open();
  tt.equal(hex(a.hello()), hex(h1), 'a retransmission is the same bytes');
  const m1 = decodeMessage(h1) as Hello;
  tt.equal(m1.caps, Capability.BareCommand | Capability.Seal, 'prefer announces Seal');
  tt.equal(m1.ephemeral?.length, 32, 'every Hello carries an ephemeral key');
  const m2 = decodeMessage(a.open()) as Hello;
  tt.not(hex(m2.ephemeral!), hex(m1.ephemeral!), 'a new nonce, a new ephemeral key');
  tt.not(hex(m2.nonce), hex(m1.nonce));
  const off = decodeMessage(handshakes('off', 'off').a.open()) as Hello;
  tt.equal(off.caps, Capability.BareCommand, 'off: no Seal bit');
  tt.equal(off.ephemeral?.length, 32, 'off: still an ephemeral key');
});

t.test('downgrade: a stripped Seal bit or ephemeral key never yields an unsealed link', async (tt) => {
  const strip = (what: 'seal' | 'ephemeral') => (body: Uint8Array): Uint8Array => {
    const h = decodeMessage(body);
    if (h.type !== 'Hello') return body;
    const forged: Hello = what === 'seal' ? { ...h, caps: h.caps & ~Capability.Seal } : { ...h, ephemeral: undefined };
    return encodeMessage(forged);
  };
  for (const pb of POLICIES) {
    for (const what of ['seal', 'ephemeral'] as const) {
      const { a, b } = handshakes('prefer', pb);
      runHandshakes(a, b, strip(what));
      tt.not(a.state, 'up', `prefer × ${pb}, ${what} stripped: A not up`);
      tt.not(b.state, 'up', `prefer × ${pb}, ${what} stripped: B not up`);
      tt.equal(b.state, 'refused', 'B refused (at once, or once the Auth over the real bytes failed)');
    }
  }
});

/** The peer's side of a device link, driven by hand with protocol/seal.ts. */
class HandPeer {
  readonly identity: Identity = generateIdentity();
  private readonly inbox: Uint8Array[] = [];
  device!: SimDevice;
  ownHello: Uint8Array = new Uint8Array(0);
  ephemeral!: EphemeralKey;
  deviceHello: Uint8Array = new Uint8Array(0);
  sealer: Sealer | null = null;
  opener: Opener | null = null;

  /** A device trusting this peer, connected to it (its Hello is in the inbox). */
  attach(options: DeviceOptions = {}): SimDevice {
    this.device = new SimDevice({ trustedKeys: [this.identity.publicKey], handshakeRetryMs: 60_000, ...options });
    this.device.connect({ send: (body) => void this.inbox.push(Uint8Array.from(body)) });
    return this.device;
  }

  /** Everything the device sent since the last call. */
  drain(): Uint8Array[] {
    return this.inbox.splice(0);
  }

  send(body: Uint8Array): void {
    this.device.onBody(body);
  }

  /** A fresh Hello (new nonce and ephemeral key), kept as its exact bytes and sent. */
  hello(tweak: (h: Hello) => Hello = (h) => h): Uint8Array {
    this.ephemeral = ephemeralFromSecret(randomBytes(32));
    const h: Hello = {
      type: 'Hello', version: PROTOCOL_VERSION, public_key: this.identity.publicKey, max_frame: 65536,
      caps: Capability.Seal | Capability.BareCommand, nonce: randomBytes(16), ephemeral: this.ephemeral.publicKey,
    };
    this.ownHello = encodeMessage(tweak(h));
    this.send(this.ownHello);
    return this.ownHello;
  }

  authBody(): Uint8Array {
    return encodeMessage({ type: 'Auth', signature: this.identity.sign(authTranscriptV2(this.deviceHello, this.ownHello)) });
  }

  /** The device's Auth in `bodies` verifies over the v2 transcript. */
  verifies(bodies: Uint8Array[]): boolean {
    const auth = bodies.map((b) => decodeMessage(b)).find((m) => m.type === 'Auth');
    return auth?.type === 'Auth' && verifySignature(this.device.identity.publicKey, authTranscriptV2(this.ownHello, this.deviceHello), auth.signature);
  }

  /** Complete a sealed handshake with the device's Hello in the inbox (or `known`); returns what the device sent. */
  handshake(tweak?: (h: Hello) => Hello, known?: Uint8Array): Uint8Array[] {
    const out = known !== undefined ? [known, ...this.drain()] : this.drain();
    this.hello(tweak);
    const answer = this.drain();
    // The device's Hello: sent on connect, or with its answer when it was waiting (after a close).
    this.deviceHello = [...out, ...answer].find((b) => kind(b) === 'Hello')!;
    this.send(this.authBody());
    const dev = decodeMessage(this.deviceHello) as Hello;
    const keys = deriveSealKeys(this.ownHello, this.deviceHello, this.ephemeral.secret, dev.ephemeral!);
    this.sealer = new Sealer(keys.send);
    this.opener = new Opener(keys.receive);
    return [...out, ...answer, ...this.drain()];
  }

  sealed(msg: Message): Uint8Array {
    return this.sealer!.seal(encodeMessage(msg));
  }

  /** Open every body (all must be sealed) and decode it. */
  open(bodies: Uint8Array[]): Message[] {
    return bodies.map((b) => {
      const plain = this.opener!.open(b);
      if (plain === null) throw new Error('replayed frame from the device');
      return decodeMessage(plain);
    });
  }
}

const poll = (session: number, maxBytes = 65536): Message => ({ type: 'PollRequest', session, max_bytes: maxBytes, heads: [], sample: [] });

t.test('device against a hand-driven peer: sealed handshake, sealed traffic, frame limit', async (tt) => {
  const peer = new HandPeer();
  const dev = peer.attach();
  for (let i = 0; i < 3; i++) dev.commit(encodeCbor([dev.peerId, i, 7]));
  const ready = new Promise((r) => dev.once('ready', r));
  const seen = peer.handshake();
  await ready;
  tt.same(seen.map(kind), ['Hello', 'Auth', 'Auth'], 'Hello, Auth, and one more Auth once up (§7.1 step 4)');
  tt.ok(peer.verifies(seen), "the device's Auth signs both Hellos (v2)");
  tt.equal(dev.sealed, true);
  const h = decodeMessage(seen[0]!) as Hello;
  tt.equal(h.caps & Capability.Seal, Capability.Seal);

  peer.send(peer.sealed(poll(1)));
  const out = peer.drain();
  tt.ok(out.length === 1 && out[0]![0] === SEAL_MARKER, 'the answer is sealed');
  const [res] = peer.open(out);
  tt.match(res, { type: 'PollResponse', session: 1, total: 3 }, 'keys agree: the peer opens it');

  // Frame limit: the plaintext is at most the peer's max_frame − SEAL_OVERHEAD.
  const small = new HandPeer();
  const dev2 = small.attach();
  for (let i = 0; i < 20; i++) dev2.commit(randomBytes(300));
  small.handshake((x) => ({ ...x, max_frame: MIN_FRAME_BYTES }));
  small.send(small.sealed(poll(2)));
  const [body] = small.drain();
  tt.ok(body!.length <= MIN_FRAME_BYTES, `sealed answer of ${body!.length} bytes within the peer's ${MIN_FRAME_BYTES}`);
  tt.ok(body!.length > MIN_FRAME_BYTES / 2, 'and the budget was used');
  tt.match(small.open([body!])[0], { type: 'PollResponse', more: true });
  // The device's own polls ask for what a sealed answer leaves of its 2048-byte buffer.
  dev2.sync.pollNow();
  const [req] = small.open(small.drain());
  tt.match(req, { type: 'PollRequest', max_bytes: 2048 - SEAL_OVERHEAD });
});

t.test('on a sealed link: unsealed messages, replays, forgeries and sealed Hellos are dropped and counted', async (tt) => {
  const peer = new HandPeer();
  const dev = peer.attach();
  const seen = peer.handshake((h) => ({ ...h, caps: h.caps | Capability.Push }));
  const [sub] = peer.open(seen.filter(isSealed));
  tt.equal(sub?.type, 'Subscribe', 'the device subscribes (sealed)');
  peer.send(peer.sealed({ type: 'SubscribeAck', remain_open: 60, max_bytes: 16384 }));
  tt.equal(dev.sync.subscribed, true);
  const ringBefore = dev.ring.count;
  const modeBefore = dev.sync.mode;

  const order = encodeCommand({ parents: [], author: peer.identity.author, seq: 1, payload: encodeCbor([dev.peerId, 'open']) }, peer.identity.sign);
  const unsealed: Message[] = [
    poll(5),
    { type: 'Error', code: ReasonCode.MaximumSubscriptionsExceeded, message: 'full', retry_after_ms: 1000 },
    { type: 'Subscribe', remain_open: 60, max_bytes: 4096, sample: [], via: [] },
    { type: 'Push', remaining: 100, exhausted: true, commands: [order.bytes] },
    { type: 'Keys', keys: [generateIdentity().publicKey] },
  ];
  for (const m of unsealed) peer.send(encodeMessage(m));
  peer.send(encodeBarePush(order.bytes));
  tt.same(peer.drain(), [], 'nothing unsealed is answered');
  tt.equal(dev.stats.unsealedDropped, unsealed.length + 1);
  tt.equal(dev.sync.subscribed, true, 'the unsealed Error changed no state');
  tt.equal(dev.sync.mode, modeBefore, 'nor the poll mode');
  tt.equal(dev.ring.count, ringBefore, 'the unsealed pushes stored nothing');
  tt.equal(dev.stats.errorsIn, 0);

  const genuine = peer.sealed(poll(6));
  peer.send(genuine);
  tt.equal(peer.open(peer.drain()).length, 1, 'a sealed poll is answered');
  peer.send(genuine);
  tt.same(peer.drain(), [], 'its replay is not');
  tt.equal(dev.stats.replays, 1);
  peer.send(sealFrame(randomBytes(32), peer.sealer!.next + 5, encodeMessage(poll(7))));
  peer.send(peer.sealed(poll(8)).subarray(0, 30));
  tt.same(peer.drain(), []);
  tt.equal(dev.stats.sealFailures, 2, 'a frame under another key and a truncated one');
  peer.send(peer.sealer!.seal(peer.ownHello));
  tt.same(peer.drain(), [], 'a sealed Hello is dropped');
  tt.equal(dev.stats.badFrames, 1);
  peer.send(peer.sealed({ type: 'Push', remaining: 50, exhausted: false, commands: [order.bytes] }));
  tt.ok(dev.ring.has(order.id), 'the same push sealed is taken');
  tt.equal(dev.stats.orders, 1);
  tt.equal(dev.state, 'up');

  // A sealed body that opens but is no message: the usual bad-frame answer, sealed.
  peer.send(peer.sealer!.seal(Uint8Array.of(0x83, 1, 2, 3)));
  const [err] = peer.open(peer.drain());
  tt.match(err, { type: 'Error', code: ReasonCode.Malformed });
});

t.test('fast-check: corrupted sealed frames are never answered and never change state', async (tt) => {
  const peer = new HandPeer();
  const dev = peer.attach();
  for (let i = 0; i < 4; i++) dev.commit(randomBytes(40));
  peer.handshake();
  let session = 100;
  const counted = (): number => dev.stats.sealFailures + dev.stats.replays + dev.stats.unsealedDropped + dev.stats.badFrames;
  const flip = fc.record({ at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) });
  fc.assert(
    fc.property(fc.array(flip, { minLength: 1, maxLength: 4 }), fc.integer({ min: -3, max: 3 }), (flips, resize) => {
      const good = peer.sealed(poll(session++));
      const body = Uint8Array.from(good);
      for (const f of flips) body[f.at % body.length]! ^= f.mask;
      // Sometimes also cut or extend the frame.
      const bad = resize < 0 ? body.subarray(0, body.length + resize) : resize > 0 ? Uint8Array.from([...body, ...randomBytes(resize)]) : body;
      // Two flips of the same byte may cancel out: that frame is not corrupted (and is answered).
      fc.pre(!Buffer.from(bad).equals(good));
      const before = counted();
      const answered = dev.stats.pollsAnswered;
      peer.send(bad);
      return peer.drain().length === 0 && counted() === before + 1 && dev.stats.pollsAnswered === answered && dev.state === 'up' && dev.sealed;
    }),
    { numRuns: 300 },
  );
  tt.equal(dev.stats.pollsAnswered, 0, 'no corrupted poll was answered');
  tt.ok(dev.stats.sealFailures > 200, `${dev.stats.sealFailures} tag failures of 300`);
  peer.send(peer.sealed(poll(1)));
  tt.match(peer.open(peer.drain()), [{ type: 'PollResponse', session: 1 }], 'the link still works');
});

t.test('device refusals: stripped Hellos, weak and reflected keys; an early Auth is kept', async (tt) => {
  const cases: { policy: SealPolicy; tweak: (h: Hello) => Hello; code: number; what: string }[] = [
    { policy: 'prefer', tweak: (h) => ({ ...h, ephemeral: undefined }), code: ReasonCode.SealingRequired, what: 'prefer, legacy Hello' },
    { policy: 'require', tweak: (h) => ({ ...h, ephemeral: undefined }), code: ReasonCode.SealingRequired, what: 'require, legacy Hello' },
    { policy: 'require', tweak: (h) => ({ ...h, caps: Capability.BareCommand }), code: ReasonCode.SealingRequired, what: 'require, no Seal bit' },
    { policy: 'prefer', tweak: (h) => ({ ...h, ephemeral: new Uint8Array(32) }), code: ReasonCode.Unauthorized, what: 'low-order ephemeral key' },
  ];
  for (const c of cases) {
    const peer = new HandPeer();
    const dev = peer.attach({ seal: c.policy });
    const errors: number[] = [];
    peer.drain();
    peer.hello(c.tweak);
    const out = peer.drain().map((b) => decodeMessage(b));
    tt.match(out, [{ type: 'Error', code: c.code }], `${c.what}: refused with ${c.code}, no Auth`);
    if (c.code === ReasonCode.SealingRequired) tt.match(out[0], { message: new RegExp(`peer ${peer.identity.peerId}`) }, 'the message names the peer');
    tt.equal(dev.state, 'refused');
    dev.on('peer-error', (e) => errors.push(e.code));
    peer.send(encodeMessage({ type: 'Error', code: ReasonCode.SealingRequired, message: 'x', retry_after_ms: null }));
    tt.same(errors, [ReasonCode.SealingRequired], 'an Error from the peer is reported');
  }

  // Our own Hello reflected back (a trust-any device admits its own key).
  const mirror = new HandPeer();
  const dev = mirror.attach({ trustAny: true });
  const [own] = mirror.drain();
  mirror.send(own!);
  tt.match(mirror.drain().map((b) => decodeMessage(b)), [{ type: 'Error', code: ReasonCode.Unauthorized }], 'a reflected Hello is refused');
  tt.equal(dev.state, 'refused');

  // Off with a legacy peer: v1 transcript, unsealed.
  const legacy = new HandPeer();
  const old = legacy.attach({ seal: 'off' });
  legacy.deviceHello = legacy.drain()[0]!;
  legacy.hello((h) => ({ ...h, caps: 0, ephemeral: undefined }));
  const [auth] = legacy.drain().map((b) => decodeMessage(b));
  const lh = decodeMessage(legacy.ownHello) as Hello;
  tt.ok(auth?.type === 'Auth' && verifySignature(old.identity.publicKey, authTranscript(lh.nonce, legacy.identity.publicKey, old.identity.publicKey), auth.signature), 'v1 Auth for a legacy peer on off');
  const dh = decodeMessage(legacy.deviceHello) as Hello;
  legacy.send(encodeMessage({ type: 'Auth', signature: legacy.identity.sign(authTranscript(dh.nonce, old.identity.publicKey, legacy.identity.publicKey)) }));
  tt.equal(old.state, 'up');
  tt.equal(old.sealed, false);

  // An Auth that overtakes the peer's Hello is kept and checked when the Hello comes (§7.1 step 3).
  const early = new HandPeer();
  const dev3 = early.attach();
  early.deviceHello = early.drain()[0]!;
  early.ephemeral = ephemeralFromSecret(randomBytes(32));
  const h: Hello = {
    type: 'Hello', version: PROTOCOL_VERSION, public_key: early.identity.publicKey, max_frame: 4096,
    caps: Capability.Seal, nonce: randomBytes(16), ephemeral: early.ephemeral.publicKey,
  };
  early.ownHello = encodeMessage(h);
  early.send(early.authBody());
  tt.same(early.drain(), [], 'the early Auth is not answered');
  early.send(early.ownHello);
  tt.same(early.drain().map(kind), ['Auth'], 'the Hello is answered with Auth');
  tt.equal(dev3.state, 'up', 'and the kept Auth brought the session up');
  tt.equal(dev3.sealed, true);
});

t.test('restart: a new Hello on an up link re-handshakes; a repeated one only re-sends Auth; close markers', async (tt) => {
  const peer = new HandPeer();
  const dev = peer.attach();
  peer.handshake();
  const oldSealer = peer.sealer!;
  // The same Hello again (our Auth was lost): Auth again, nothing else.
  peer.send(peer.ownHello);
  tt.same(peer.drain().map(kind), ['Auth']);
  tt.equal(dev.stats.rehandshakes, 0);

  // A new Hello (the peer restarted, or rekeys): the device starts over with a fresh Hello.
  const downs: number[] = [];
  dev.on('down', () => downs.push(1));
  const before = peer.deviceHello;
  peer.hello();
  const answer = peer.drain();
  tt.same(answer.map(kind), ['Hello', 'Auth'], 'a fresh Hello and an Auth for the new handshake');
  tt.not(hex(answer[0]!), hex(before), 'a new device Hello');
  tt.equal(dev.stats.rehandshakes, 1);
  tt.equal(downs.length, 1);
  peer.deviceHello = answer[0]!;
  tt.ok(peer.verifies(answer));
  peer.send(oldSealer.seal(encodeMessage(poll(9))));
  tt.same(peer.drain(), [], 'frames under the old keys no longer open');
  tt.equal(dev.stats.sealFailures, 1);
  peer.send(peer.authBody());
  tt.equal(dev.state, 'up');
  const dh = decodeMessage(peer.deviceHello) as Hello;
  const keys = deriveSealKeys(peer.ownHello, peer.deviceHello, peer.ephemeral.secret, dh.ephemeral!);
  peer.sealer = new Sealer(keys.send);
  peer.opener = new Opener(keys.receive);
  tt.same(peer.drain().map(kind), ['Auth'], 'the extra Auth copy');
  peer.send(peer.sealed(poll(10)));
  const [res] = peer.drain();
  tt.equal(res![0], SEAL_MARKER);
  tt.equal(new DataView(res!.buffer, res!.byteOffset).getUint32(1), 0, 'new keys, seq from 0');
  tt.match(peer.open([res!]), [{ type: 'PollResponse', session: 10 }]);

  // The peer's sealed close marker: the session ends, nothing is answered; the next Hello relinks.
  peer.send(peer.sealer.seal(new Uint8Array(0)));
  tt.same(peer.drain(), [], 'the close marker is not answered');
  tt.equal(dev.state, 'hello-sent');
  tt.equal(downs.length, 2);
  const third = peer.handshake();
  tt.same(third.map(kind), ['Hello', 'Auth', 'Auth'], 'the waiting Hello goes out with the Auth');
  tt.equal(dev.sealed, true);
  peer.drain();

  // 2^31 frames under one key: the device starts over instead of sealing more (§7.4). The
  // counter is set directly (private), rather than sending two billion frames.
  const session: unknown = Reflect.get(Reflect.get(dev, 'session') as object, 'session');
  Reflect.set(Reflect.get(session as object, 'sealer') as object, 'seq', SEAL_REKEY_AT);
  dev.sync.pollNow();
  const rekey = peer.drain();
  tt.same(rekey.map(kind), ['Hello'], 'a fresh Hello instead of the poll');
  tt.equal(dev.stats.rehandshakes, 2);
  tt.equal(dev.state, 'hello-sent');
  peer.handshake(undefined, rekey[0]);
  tt.equal(dev.sealed, true, 'sealed again under new keys');
  peer.send(peer.sealed(poll(11)));
  tt.match(peer.open(peer.drain()), [{ type: 'PollResponse', session: 11 }]);

  // Our own disconnect sends the sealed close marker.
  dev.disconnect();
  const [marker] = peer.drain();
  tt.equal(peer.opener!.open(marker!)?.length, 0, 'a sealed empty frame');
});

/** Two devices on an in-memory body link (asynchronous delivery, like a line), with a tap of the bodies each sends. */
function wirePair(tt: { teardown(fn: () => void): void }, optsA: DeviceOptions, optsB: DeviceOptions) {
  const idA = generateIdentity();
  const idB = generateIdentity();
  const A = new SimDevice({ identity: idA, trustedKeys: [idB.publicKey], handshakeRetryMs: 200, ...optsA });
  const B = new SimDevice({ identity: idB, trustedKeys: [idA.publicKey], handshakeRetryMs: 200, ...optsB });
  const tap = { a: [] as Uint8Array[], b: [] as Uint8Array[] };
  const wire = { cut: false };
  const toB: DeviceLink = {
    send(body) {
      if (wire.cut) return;
      const copy = Uint8Array.from(body);
      tap.a.push(copy);
      setImmediate(() => B.onBody(copy));
    },
  };
  const toA: DeviceLink = {
    send(body) {
      const copy = Uint8Array.from(body);
      tap.b.push(copy);
      setImmediate(() => A.onBody(copy));
    },
  };
  tt.teardown(() => {
    A.stop();
    B.stop();
  });
  const connect = (): void => {
    B.connect(toA);
    A.connect(toB);
  };
  return { A, B, tap, wire, connect, toA, toB };
}

/** Every body after the handshake is sealed: the unsealed ones are Hellos and Auths. */
function unsealedKinds(bodies: Uint8Array[]): string[] {
  return [...new Set(bodies.filter((b) => !isSealed(b)).map(kind))].sort();
}

t.test('two devices: sealed wire, telemetry and orders; a restart re-handshakes', async (tt) => {
  const { A, B, tap, wire, connect, toB } = wirePair(tt, { pollMs: 100, telemetryMs: 5000 }, { pollMs: 100, telemetryMs: 50 });
  connect();
  await until(() => A.state === 'up' && B.state === 'up', 3000, 'both up');
  tt.ok(A.sealed && B.sealed, 'sealed (prefer × prefer)');
  B.start();
  await until(() => A.stats.commandsReceived >= 5, 5000, 'telemetry at A');
  const got = new Promise<Uint8Array>((r) => B.once('order', r));
  A.commit(encodeCbor([B.peerId, 'valve', 1]));
  await got;
  tt.same(unsealedKinds(tap.a), ['Auth', 'Hello'], 'A sent nothing unsealed but Hello and Auth');
  tt.same(unsealedKinds(tap.b), ['Auth', 'Hello'], 'B too');
  const sealedA = tap.a.filter(isSealed).length;
  const sealedB = tap.b.filter(isSealed).length;
  tt.ok(sealedA >= 3 && sealedB >= 3, `and sealed ones: ${sealedA} from A, ${sealedB} from B`);
  for (const d of [A, B]) tt.match(d.stats, { sealFailures: 0, replays: 0, unsealedDropped: 0, badFrames: 0 });

  // A restarts its end and its close marker is lost: B learns of it from A's new Hello, starts
  // over, and both come back sealed under new keys.
  const readyB = new Promise((r) => B.once('ready', r));
  const n = A.stats.commandsReceived;
  wire.cut = true;
  A.disconnect();
  wire.cut = false;
  A.connect(toB);
  await readyB;
  await until(() => A.state === 'up', 2000, 'A up again');
  tt.equal(B.stats.rehandshakes, 1, 'B counted the restart');
  tt.ok(A.sealed && B.sealed);
  await until(() => A.stats.commandsReceived > n + 3, 5000, 'telemetry after the restart');
  tt.same(unsealedKinds(tap.a), ['Auth', 'Hello']);
  tt.same(unsealedKinds(tap.b), ['Auth', 'Hello']);
  tt.equal(A.stats.rehandshakes + B.stats.rehandshakes, 1, 'no ping-pong: one restart in all');

  // A closes with its marker delivered: B's session ends at once; A's return relinks.
  const downB = new Promise<void>((r) => B.once('down', r));
  A.disconnect();
  await downB;
  tt.equal(B.state, 'hello-sent', 'B waits for A');
  // What B sealed before the marker reached it is still on its way to A: let it land (each body
  // is one setImmediate, queued before this one). A, closed, drops and counts it: that is right.
  await new Promise((r) => setImmediate(r));
  const inFlight = A.stats.sealFailures;
  tt.equal(B.stats.sealFailures, 0, 'A sealed nothing after its marker');
  const ready2 = Promise.all([new Promise((r) => A.once('ready', r)), new Promise((r) => B.once('ready', r))]);
  A.connect(toB);
  await ready2;
  tt.ok(A.sealed && B.sealed);
  tt.equal(A.stats.rehandshakes + B.stats.rehandshakes, 1, 'a closed session is no restart');
  tt.equal(A.stats.sealFailures + B.stats.sealFailures, inFlight, `no frame under stale keys was tried once the marker was seen (${inFlight} in flight before)`);
});

t.test('policy off interoperates with prefer (unsealed), and with off', async (tt) => {
  for (const [pa, pb] of [['off', 'prefer'], ['prefer', 'off'], ['off', 'off']] as const) {
    const { A, B, tap, connect } = wirePair(tt, { pollMs: 100, telemetryMs: 5000, seal: pa }, { pollMs: 100, telemetryMs: 50, seal: pb });
    connect();
    await until(() => A.state === 'up' && B.state === 'up', 3000, `${pa} × ${pb} up`);
    B.start();
    await until(() => A.stats.commandsReceived >= 3, 5000, 'telemetry at A');
    tt.ok(!A.sealed && !B.sealed, `${pa} × ${pb}: unsealed`);
    tt.notOk([...tap.a, ...tap.b].some(isSealed), 'no sealed frame on the wire');
    tt.ok(unsealedKinds(tap.a).includes('PollRequest'), 'plain polls');
    A.stop();
    B.stop();
  }
  // require × off: refused, both say why.
  const { A, B, connect } = wirePair(tt, { seal: 'require' }, { seal: 'off' });
  const errB = new Promise<number>((r) => B.once('peer-error', (e) => r(e.code)));
  connect();
  tt.equal(await errB, ReasonCode.SealingRequired, 'the off side is told SealingRequired');
  tt.equal(A.state, 'refused');
  tt.not(B.state, 'up');
});

/**
 * The pure parts of sealed links in the agent: the handshake state machine (agent/sync/
 * handshake.ts) under random delivery orders, duplicates and retransmissions; its refusals and
 * re-handshake drops; and the sealed channel's previous receive key (agent/sync/sealed-channel.ts)
 * on a fake clock.
 */
import t from 'tap';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { Handshake, type HandshakeSetup } from '../agent/sync/handshake.js';
import { PREVIOUS_KEY_MS, SealedChannel } from '../agent/sync/sealed-channel.js';
import { Capability } from '../protocol/constants.js';
import { decodeMessageV2 as decodeMessage, encodeMessageV2 as encodeMessage } from '../protocol/envelope-v2.js';
import { ReasonCode } from '../protocol/errors.js';
import { generateIdentity, type Identity } from '../protocol/keys.js';
import type { Hello } from '../protocol/messages-v2.js';
import { SEAL_POLICIES, deriveSealKeys, ephemeralFromSecret, type SealKeys, type SealPolicy } from '../protocol/seal.js';

const rnd = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

function setup(identity: Identity, policy: SealPolicy, trusted: Uint8Array[], current?: HandshakeSetup['current']): HandshakeSetup {
  return { identity, maxFrame: 65536, caps: Capability.Push | Capability.BareCommand, policy, admits: (k) => trusted.some((x) => Buffer.from(x).equals(k)), randomBytes: rnd, current };
}

/** Deliver one frame body to a handshake; returns what it sends back, or 'refused' / 'up'. */
function deliver(hs: Handshake, body: Uint8Array): { send: Uint8Array[]; up: boolean; refused: number | null } {
  const m = decodeMessage(body);
  const step = m.type === 'Hello' ? hs.onHello(m, body) : m.type === 'Auth' ? hs.onAuth(m.signature) : null;
  if (step === null) return { send: [], up: false, refused: null };
  return { send: step.send, up: step.up, refused: step.refuse === null ? null : ReasonCode[step.refuse.reason] };
}

const expectSealed = (a: SealPolicy, b: SealPolicy): boolean => a !== 'off' && b !== 'off';
const refuses = (own: SealPolicy, peer: SealPolicy): boolean => own === 'require' && peer === 'off';

t.test('property: any delivery order, duplicates and retransmissions bring both sides up with matching keys', async (tt) => {
  const [ia, ib] = [generateIdentity(), generateIdentity()];
  const trusted = [ia.publicKey, ib.publicKey];
  const policies = fc.constantFrom(...SEAL_POLICIES);
  fc.assert(
    fc.property(policies, policies, fc.array(fc.nat(), { minLength: 200, maxLength: 200 }), (pa, pb, choices) => {
      fc.pre(!refuses(pa, pb) && !refuses(pb, pa));
      const a = new Handshake(setup(ia, pa, trusted));
      const b = new Handshake(setup(ib, pb, trusted));
      // In flight toward each side; the scheduler picks any frame (reordering), may keep it
      // (a duplicate), and either side may retransmit.
      const toA: Uint8Array[] = [b.hello];
      const toB: Uint8Array[] = [a.hello];
      for (const c of choices) {
        if (a.state === 'up' && b.state === 'up') break;
        const kind = c % 4;
        if (kind === 3) {
          (c & 4 ? toB : toA).push(...(c & 4 ? a : b).retransmit());
          continue;
        }
        const [queue, hs, back] = kind === 0 ? [toA, a, toB] : [toB, b, toA];
        if (queue.length === 0) continue;
        const i = (c >> 2) % queue.length;
        const body = queue[i]!;
        if (kind !== 2) queue.splice(i, 1); // kind 2: delivered and still in flight (duplicated)
        const r = deliver(hs, body);
        if (r.refused !== null) return false;
        back.push(...r.send);
      }
      // Drain whatever is left, in order, until both are up.
      for (let round = 0; round < 4 && (a.state !== 'up' || b.state !== 'up'); round++) {
        toA.push(...b.retransmit());
        toB.push(...a.retransmit());
        while (toA.length + toB.length > 0) {
          if (toA.length > 0) toB.push(...deliver(a, toA.shift()!).send);
          if (toB.length > 0) toA.push(...deliver(b, toB.shift()!).send);
        }
      }
      if (a.state !== 'up' || b.state !== 'up') return false;
      if (a.sealed !== expectSealed(pa, pb) || b.sealed !== a.sealed) return false;
      if (!a.sealed) return a.keys === null && b.keys === null;
      const [ka, kb] = [a.keys as SealKeys, b.keys as SealKeys];
      return Buffer.from(ka.send).equals(kb.receive) && Buffer.from(kb.send).equals(ka.receive) && !Buffer.from(ka.send).equals(ka.receive);
    }),
    { numRuns: 150, seed: 4242 },
  );
  tt.pass('converged with matching per-direction keys');
});

t.test('the first handshake refuses; a re-handshake only drops (§7.1, §7.5)', async (tt) => {
  const [ia, ib] = [generateIdentity(), generateIdentity()];
  const trusted = [ia.publicKey, ib.publicKey];
  const hello = (policy: SealPolicy, id = ib, change: (h: Hello) => Hello = (h) => h): Uint8Array => {
    const h = decodeMessage(new Handshake(setup(id, policy, trusted)).hello) as Hello;
    return encodeMessage(change(h));
  };
  const first = (policy: SealPolicy, body: Uint8Array) => deliver(new Handshake(setup(ia, policy, trusted)), body);
  tt.equal(first('require', hello('off')).refused, ReasonCode.SealingRequired, 'require refuses a peer without Seal');
  tt.equal(first('require', hello('require', generateIdentity())).refused, ReasonCode.Unauthorized, 'an untrusted key');
  tt.equal(first('require', hello('require', ib, (h) => ({ ...h, version: 1 }))).refused, ReasonCode.UnsupportedVersion, 'another version');
  tt.equal(first('require', hello('require', ib, (h) => ({ ...h, ephemeral: new Uint8Array(32) }))).refused, ReasonCode.Unauthorized, 'a low-order ephemeral key');
  const self = new Handshake(setup(ia, 'require', trusted));
  tt.equal(deliver(self, self.hello).refused, ReasonCode.Unauthorized, 'our own Hello reflected');
  const off = new Handshake(setup(ia, 'off', trusted));
  tt.equal(deliver(off, off.hello).refused, ReasonCode.Unauthorized, 'our own Hello reflected on an off link too');

  // The same inputs during a re-handshake beside a sealed session with ib: dropped, never an Error.
  const re = (body: Uint8Array) => {
    const hs = new Handshake(setup(ia, 'prefer', trusted, { peerKey: ib.publicKey, sealed: true }));
    const m = decodeMessage(body) as Hello;
    return hs.onHello(m, body);
  };
  const cases: [string, Uint8Array, string][] = [
    ['downgrade to unsealed', hello('off'), 'downgrade'],
    ['another peer key', hello('require', ia), 'other-key'],
    ['a low-order ephemeral key', hello('require', ib, (h) => ({ ...h, ephemeral: new Uint8Array(32) })), 'weak-key'],
    ['another version', hello('require', ib, (h) => ({ ...h, version: 9 })), 'version'],
  ];
  for (const [name, body, why] of cases) {
    const step = re(body);
    tt.same({ send: step.send.length, refuse: step.refuse, dropped: step.dropped }, { send: 0, refuse: null, dropped: why }, `re-handshake: ${name} dropped (${why})`);
  }
  const ok = re(hello('require'));
  tt.ok(ok.dropped === null && ok.send.length === 1 && decodeMessage(ok.send[0]!).type === 'Auth', 'a good Hello is answered with Auth');
});

t.test('a bad Auth in a re-handshake is dropped and kept for the next peer Hello', async (tt) => {
  const [ia, ib] = [generateIdentity(), generateIdentity()];
  const trusted = [ia.publicKey, ib.publicKey];
  const cur = { peerKey: ib.publicKey, sealed: true };
  const a = new Handshake(setup(ia, 'require', trusted, cur));
  const b = new Handshake(setup(ib, 'require', trusted, { peerKey: ia.publicKey, sealed: true }));
  // A forged Hello (ib's key, the forger's ephemeral) reaches A first.
  const forged = decodeMessage(b.hello) as Hello;
  const forgedBody = encodeMessage({ ...forged, nonce: rnd(16), ephemeral: ephemeralFromSecret(rnd(32)).publicKey });
  deliver(a, forgedBody);
  // B's genuine Auth for A's Hello arrives before B's Hello: it does not verify against the forgery.
  const bAuth = deliver(b, a.hello).send.find((f) => decodeMessage(f).type === 'Auth')!;
  const dropped = a.onAuth((decodeMessage(bAuth) as { signature: Uint8Array }).signature);
  tt.equal(dropped.dropped, 'bad-auth', 'dropped, no Error');
  tt.equal(a.state, 'auth-sent');
  const r = deliver(a, b.hello);
  tt.ok(r.up, "the kept Auth verifies once B's genuine Hello replaces the forgery");
  tt.ok(a.keys !== null && b.keys !== null && Buffer.from(a.keys.send).equals(b.keys.receive), "A's keys are those of the genuine pair of Hellos, not the forgery's");
});

t.test('the previous receive key opens frames for 10 s after a rekey, then no more (§7.5)', async (tt) => {
  let now = 1_000_000;
  const clock = (): number => now;
  const keys = (): { mine: SealKeys; theirs: SealKeys } => {
    const [sa, sb] = [rnd(32), rnd(32)];
    const ha = encodeMessage({ type: 'Hello', version: 1, public_key: rnd(32), max_frame: 65536, caps: 4, nonce: rnd(16), ephemeral: ephemeralFromSecret(sa).publicKey });
    const hb = encodeMessage({ type: 'Hello', version: 1, public_key: rnd(32), max_frame: 65536, caps: 4, nonce: rnd(16), ephemeral: ephemeralFromSecret(sb).publicKey });
    const eb = (decodeMessage(hb) as Hello).ephemeral!;
    const ea = (decodeMessage(ha) as Hello).ephemeral!;
    return { mine: deriveSealKeys(ha, hb, sa, eb), theirs: deriveSealKeys(hb, ha, sb, ea) };
  };
  const k1 = keys();
  const k2 = keys();
  const me = new SealedChannel(k1.mine, 3, clock);
  const peer = new SealedChannel(k1.theirs, 1000, clock);
  const early = [peer.seal(Uint8Array.of(0x81, 0x07)), peer.seal(Uint8Array.of(0x81, 0x07)), peer.seal(Uint8Array.of(0x81, 0x07))];
  tt.equal(me.open(early[0]!).kind, 'message', 'opens under the current key');
  tt.equal(me.open(early[0]!).kind, 'replay', 'once');
  me.seal(new Uint8Array(1));
  me.seal(new Uint8Array(1));
  tt.notOk(me.rekeyDue, 'not due before the threshold');
  me.seal(new Uint8Array(1));
  tt.ok(me.rekeyDue, 'due once the next sequence number reaches the (injected) threshold');
  me.rekey(k2.mine);
  tt.notOk(me.rekeyDue, 'fresh keys: sequence numbers from 0');
  tt.equal(me.nextSeq, 0);
  const peer2 = new SealedChannel(k2.theirs, 1000, clock);
  tt.equal(me.open(peer2.seal(Uint8Array.of(0x81, 0x07))).kind, 'message', 'the new key opens');
  tt.equal(me.open(early[1]!).kind, 'message', 'a frame sealed before the switch still opens (previous key)');
  tt.equal(me.open(early[1]!).kind, 'replay', 'and the previous window still holds');
  now += PREVIOUS_KEY_MS;
  const r = me.open(early[2]!);
  tt.equal(r.kind, 'failure', 'after 10 s the previous key is gone');
  tt.equal(me.open(peer.seal(new Uint8Array(0))).kind, 'failure', 'even for a close marker');
  tt.equal(me.open(peer2.seal(new Uint8Array(0))).kind, 'close', 'the close marker under the current key');
});

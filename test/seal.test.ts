/**
 * The sealing core (protocol/seal.ts, PROTOCOL.md §7.2–§7.4): known answers, round trips, tamper
 * detection, the key schedule's agreement and direction split, the replay window against a
 * reference model, the Sealer's rekey/exhaustion boundaries, low-order X25519 keys, and `Hello`
 * with and without its trailing `ephemeral` field.
 */
import t from 'tap';
import fc from 'fast-check';
import {
  authTranscriptV2,
  Capability,
  decodeMessageV2 as decodeMessage,
  deriveSealKeys,
  encodeCbor,
  encodeMessageV2 as encodeMessage,
  ephemeralFromSecret,
  fromHex,
  isSealed,
  MalformedError,
  openFrame,
  Opener,
  REPLAY_WINDOW,
  ReplayWindow,
  SEAL_MARKER,
  SEAL_OVERHEAD,
  SEAL_REKEY_AT,
  SEAL_SEQ_MAX,
  SealError,
  sealedSeq,
  Sealer,
  sealFrame,
  sha256,
  SyncwireError,
  toHex,
  x25519,
  type Hello,
  type SealFailure,
} from '../protocol/index.js';
import { loadVectors } from '../testkit/vectors.js';

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const key32 = bytes(32);
const u32 = fc.integer({ min: 0, max: SEAL_SEQ_MAX });
const seqArb = fc.oneof(u32, fc.integer({ min: 0, max: 100 }), fc.integer({ min: SEAL_SEQ_MAX - 100, max: SEAL_SEQ_MAX }));
const plaintextArb = fc.uint8Array({ maxLength: 1500 });

/** The SealError failure `f` throws, or a description of what it did instead. */
function failureOf(f: () => unknown): SealFailure | string {
  try {
    f();
    return 'no error';
  } catch (err) {
    return err instanceof SealError ? err.failure : `${(err as Error).name}: ${(err as Error).message}`;
  }
}

t.test('X25519 matches RFC 7748 §6.1', async (t) => {
  const alice = ephemeralFromSecret(fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'));
  const bob = ephemeralFromSecret(fromHex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb'));
  t.equal(toHex(alice.publicKey), '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
  t.equal(toHex(bob.publicKey), 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
  const shared = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
  t.equal(toHex(x25519(alice.secret, bob.publicKey)), shared);
  t.equal(toHex(x25519(bob.secret, alice.publicKey)), shared);
  t.throws(() => ephemeralFromSecret(new Uint8Array(31)), RangeError, 'a secret must be 32 bytes');
});

t.test('x25519 refuses every small-order point (RFC 7748 §6.1), also with bit 255 set', async (t) => {
  const p = (1n << 255n) - 19n;
  const us = [0n, 1n, p - 1n, p, p + 1n, 325606250916557431795983626356110631294008115727848805560023387167927233504n, 39382357235489614581723060781553021112529911719440698176882885853963445705823n];
  const secret = ephemeralFromSecret(new Uint8Array(32).fill(0x11)).secret;
  let n = 0;
  for (const u of us) {
    for (const high of [false, true]) {
      const pub = Uint8Array.from({ length: 32 }, (_, i) => Number((u >> BigInt(8 * i)) & 0xffn));
      if (high) pub[31]! |= 0x80;
      t.equal(failureOf(() => x25519(secret, pub)), 'weak-key', `u = ${toHex(pub)}`);
      n++;
    }
  }
  t.equal(n, 14);
  // 33 bytes: OpenSSL alone would ignore the extra byte and use the first 32.
  const good = ephemeralFromSecret(new Uint8Array(32).fill(0x22)).publicKey;
  for (const len of [0, 31, 33]) t.equal(failureOf(() => x25519(secret, Uint8Array.from({ length: len }, (_, i) => good[i] ?? 0xaa))), 'weak-key', `a ${len}-byte public key is unusable`);
  for (const len of [31, 33]) t.throws(() => x25519(Uint8Array.from({ length: len }, (_, i) => secret[i] ?? 1), good), RangeError, `a ${len}-byte secret is the caller's error`);
});

t.test('sealFrame / openFrame round trip for random keys, sequence numbers and plaintexts', async (t) => {
  fc.assert(
    fc.property(key32, seqArb, plaintextArb, (key, seq, pt) => {
      const body = sealFrame(key, seq, pt);
      if (body.length !== pt.length + SEAL_OVERHEAD || body[0] !== SEAL_MARKER || !isSealed(body) || sealedSeq(body) !== seq) return false;
      const out = openFrame(key, body);
      return out.seq === seq && toHex(out.plaintext) === toHex(pt);
    }),
    { numRuns: 500 },
  );
  for (const bad of [-1, SEAL_SEQ_MAX + 1, 1.5, Number.NaN]) t.throws(() => sealFrame(new Uint8Array(32), bad, new Uint8Array(1)), RangeError, `seq ${bad} is refused`);
});

t.test('any single-byte change, truncation or extension makes a sealed frame fail with SealError', async (t) => {
  fc.assert(
    fc.property(key32, seqArb, fc.uint8Array({ maxLength: 200 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (key, seq, pt, at, xor) => {
      const body = sealFrame(key, seq, pt);
      const i = at % body.length;
      const changed = Uint8Array.from(body);
      changed[i]! ^= xor;
      // Byte 0 is the marker: anything else there is not a sealed frame at all.
      if (failureOf(() => openFrame(key, changed)) !== (i === 0 ? 'not-sealed' : 'bad-tag')) return false;
      const cut = at % body.length;
      const truncated = body.subarray(0, cut);
      if (failureOf(() => openFrame(key, truncated)) !== (cut < SEAL_OVERHEAD ? 'not-sealed' : 'bad-tag')) return false;
      const longer = Uint8Array.from([...body, xor]);
      return failureOf(() => openFrame(key, longer)) === 'bad-tag';
    }),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(key32, key32, seqArb, plaintextArb, (k1, k2, seq, pt) => toHex(k1) === toHex(k2) || failureOf(() => openFrame(k2, sealFrame(k1, seq, pt))) === 'bad-tag'),
    { numRuns: 300 },
  );
});

const helloArb = (caps = Capability.Push | Capability.Seal): fc.Arbitrary<Hello> =>
  fc.record({
    type: fc.constant('Hello' as const),
    version: fc.constant(1),
    public_key: bytes(32),
    max_frame: fc.integer({ min: 1536, max: 65536 }),
    caps: fc.constant(caps),
    nonce: bytes(16),
    ephemeral: bytes(32),
  });

t.test('both sides derive the same keys; the two directions differ; any Hello byte changes them', async (t) => {
  fc.assert(
    fc.property(key32, key32, helloArb(), helloArb(), fc.nat(), (sa, sb, ha, hb, at) => {
      const a = ephemeralFromSecret(sa);
      const b = ephemeralFromSecret(sb);
      const helloA = encodeMessage({ ...ha, ephemeral: a.publicKey });
      const helloB = encodeMessage({ ...hb, ephemeral: b.publicKey });
      if (toHex(helloA) === toHex(helloB)) return true;
      const kA = deriveSealKeys(helloA, helloB, a.secret, b.publicKey);
      const kB = deriveSealKeys(helloB, helloA, b.secret, a.publicKey);
      if (toHex(kA.send) !== toHex(kB.receive) || toHex(kA.receive) !== toHex(kB.send)) return false;
      if (toHex(kA.transcriptHash) !== toHex(kB.transcriptHash) || toHex(kA.send) === toHex(kA.receive)) return false;
      // A frame A seals opens on B's side and not with B's own sending key.
      const frame = sealFrame(kA.send, 7, helloA);
      if (toHex(openFrame(kB.receive, frame).plaintext) !== toHex(helloA) || failureOf(() => openFrame(kB.send, frame)) !== 'bad-tag') return false;
      // The transcript binds every byte of the peer's Hello (a stripped Seal bit, a swapped nonce…).
      const tampered = Uint8Array.from(helloB);
      tampered[at % tampered.length]! ^= 0x01;
      const kT = deriveSealKeys(helloA, tampered, a.secret, b.publicKey);
      return toHex(kT.send) !== toHex(kA.send) && toHex(kT.receive) !== toHex(kA.receive);
    }),
    { numRuns: 200 },
  );
});

t.test('a reflected Hello is refused before any key exists', async (t) => {
  const a = ephemeralFromSecret(new Uint8Array(32).fill(0x11));
  const b = ephemeralFromSecret(new Uint8Array(32).fill(0x22));
  const hello = encodeMessage({ type: 'Hello', version: 1, public_key: new Uint8Array(32).fill(1), max_frame: 4096, caps: 7, nonce: new Uint8Array(16), ephemeral: a.publicKey });
  t.equal(failureOf(() => deriveSealKeys(hello, hello, a.secret, a.publicKey)), 'reflected');
  t.equal(failureOf(() => deriveSealKeys(hello, Uint8Array.from(hello), a.secret, b.publicKey)), 'reflected', 'equal bytes, whatever the keys');
  const e = new SealError('reflected', 'x');
  t.ok(e instanceof SyncwireError && e.reason === 'Unauthorized' && e.name === 'SealError', 'a SyncwireError with wire reason Unauthorized');
});

t.test('authTranscriptV2 = "syncwire-auth-v2" ‖ SHA-256(challenger) ‖ SHA-256(signer), order matters', async (t) => {
  const x = Uint8Array.of(1, 2, 3);
  const y = Uint8Array.of(4, 5);
  const tr = authTranscriptV2(x, y);
  t.equal(tr.length, 80);
  t.equal(Buffer.from(tr.subarray(0, 16)).toString('ascii'), 'syncwire-auth-v2');
  t.equal(toHex(tr.subarray(16)), toHex(sha256(x)) + toHex(sha256(y)));
  t.not(toHex(authTranscriptV2(y, x)), toHex(tr));
});

/** The reference model of the window: every seq seen, and the highest. */
class ModelWindow {
  private readonly seen = new Set<number>();
  private max = -1;
  accept(seq: number): boolean {
    const ok = !this.seen.has(seq) && (seq > this.max || this.max - seq < REPLAY_WINDOW);
    if (ok) {
      this.seen.add(seq);
      this.max = Math.max(this.max, seq);
    }
    return ok;
  }
}

/** Sequences that stay near the window's edge (offsets from the running top) with rare big jumps. */
const seqsArb = fc.array(fc.oneof({ weight: 8, arbitrary: fc.integer({ min: -70, max: 4 }) }, { weight: 1, arbitrary: fc.integer({ min: 5, max: 200 }) }, { weight: 1, arbitrary: u32.map((x) => ({ abs: x })) }), { maxLength: 300 }).map((ops) => {
  let top = 0;
  return ops.map((op) => {
    const s = typeof op === 'number' ? Math.min(SEAL_SEQ_MAX, Math.max(0, top + op)) : op.abs;
    top = Math.max(top, s);
    return s;
  });
});

t.test('ReplayWindow accepts exactly what the model says (fresh and within 64 of the highest)', async (t) => {
  fc.assert(
    fc.property(seqsArb, (seqs) => {
      const w = new ReplayWindow();
      const m = new ModelWindow();
      return seqs.every((s) => {
        const fresh = w.fresh(s);
        const expected = m.accept(s);
        return fresh === expected && w.accept(s) === expected && !w.fresh(s);
      });
    }),
    { numRuns: 1000 },
  );
});

t.test('Opener: genuine frames through the window, forgeries never move it', async (t) => {
  const key = new Uint8Array(32).fill(5);
  const other = new Uint8Array(32).fill(6);
  fc.assert(
    fc.property(seqsArb, fc.array(fc.boolean(), { minLength: 300, maxLength: 300 }), (seqs, forged) => {
      const o = new Opener(key);
      const m = new ModelWindow();
      return seqs.every((s, i) => {
        const pt = Uint8Array.of(0x81, 0x07, i & 0xff);
        if (forged[i]) {
          const r = failureOf(() => o.open(sealFrame(other, s, pt)));
          // An old or replayed seq is dropped before the tag is checked; a fresh one fails the tag.
          return r === 'bad-tag' || r === 'no error';
        }
        const got = o.open(sealFrame(key, s, pt));
        return m.accept(s) ? got !== null && toHex(got) === toHex(pt) : got === null;
      });
    }),
    { numRuns: 300 },
  );
  const o = new Opener(key);
  t.same(o.open(sealFrame(key, 0, new Uint8Array(0))), new Uint8Array(0), 'the close marker opens to an empty plaintext');
  t.equal(o.open(sealFrame(key, 0, new Uint8Array(0))), null, 'its replay is dropped');
  t.equal(failureOf(() => o.open(Uint8Array.of(0x81, 0x07))), 'not-sealed', 'a plain message is not sealed');
  t.equal(failureOf(() => o.open(new Uint8Array(0))), 'not-sealed', 'nor is an empty body');
});

t.test('Sealer: sequence numbers from 0, rekeyDue from 2^31, exhausted after 2^32 − 1', async (t) => {
  const key = new Uint8Array(32).fill(3);
  const s = new Sealer(key);
  t.equal(s.next, 0);
  t.equal(sealedSeq(s.seal(Uint8Array.of(1))), 0);
  t.equal(sealedSeq(s.seal(Uint8Array.of(1))), 1);
  t.equal(s.next, 2);
  t.notOk(s.rekeyDue);
  // Sealing 2^31 frames to get there takes too long: set the private counter directly.
  const at = (n: number): Sealer => {
    const x = new Sealer(key);
    (x as unknown as { seq: number }).seq = n;
    return x;
  };
  t.notOk(at(SEAL_REKEY_AT - 1).rekeyDue, 'not due at 2^31 − 1');
  const due = at(SEAL_REKEY_AT - 1);
  due.seal(new Uint8Array(0));
  t.ok(due.rekeyDue, 'due once the next seq is 2^31');
  const last = at(SEAL_SEQ_MAX);
  t.ok(last.rekeyDue);
  const frame = last.seal(Uint8Array.of(0x81, 0x07));
  t.equal(sealedSeq(frame), SEAL_SEQ_MAX, 'the last seq is usable');
  t.same(openFrame(key, frame).plaintext, Uint8Array.of(0x81, 0x07));
  t.equal(failureOf(() => last.seal(new Uint8Array(0))), 'exhausted', 'then the space is used up');
  t.equal(failureOf(() => last.seal(new Uint8Array(0))), 'exhausted', 'and stays so');
});

t.test('a version-2 Hello needs its ephemeral key; a 5-field Hello of version 1 is UnsupportedVersion; a bad 6th field is Malformed', async (t) => {
  const base = { type: 'Hello', version: 2, public_key: new Uint8Array(32).fill(1), max_frame: 4096, caps: 7, nonce: new Uint8Array(16).fill(2) } as const;
  const eph = new Uint8Array(32).fill(3);
  const withEph = encodeMessage({ ...base, ephemeral: eph });
  t.equal(withEph[0], 0x87, 'six fields after the type');
  t.same(decodeMessage(withEph), { ...base, ephemeral: eph });
  const fields = [0, 2, base.public_key, 4096, 7, base.nonce];
  t.throws(() => decodeMessage(encodeCbor(fields)), /Hello without ephemeral key/, 'version 2 without ephemeral: Malformed');
  t.equal((() => { try { decodeMessage(encodeCbor([0, 1, base.public_key, 4096, 7, base.nonce])); return null; } catch (e) { return (e as SyncwireError).reason; } })(), 'UnsupportedVersion', 'what a protocol-1 peer sends: refused by its version');
  for (const [what, v] of [['31 bytes', new Uint8Array(31)], ['33 bytes', new Uint8Array(33)], ['empty', new Uint8Array(0)], ['an integer', 5], ['text', 'x'], ['null', null]] as const) {
    t.throws(() => decodeMessage(encodeCbor([...fields, v])), MalformedError, `6th field ${what} is Malformed`);
  }
  t.same(decodeMessage(encodeCbor([...fields, eph, 'future'])), { ...base, ephemeral: eph }, 'a 7th field is ignored');
  t.throws(() => encodeMessage({ ...base, ephemeral: new Uint8Array(31) }), MalformedError, 'the encoder refuses a 31-byte ephemeral');
  t.throws(() => decodeMessage(sealFrame(eph, 0, withEph)), MalformedError, 'a sealed body never decodes as a message');
  const v2 = loadVectors<{ cases: Array<{ name: string; cbor: string }> }>('messages-v2.json');
  for (const c of v2.cases) t.notOk(isSealed(fromHex(c.cbor)), `messages-v2.json ${c.name} does not start with the seal marker`);
});

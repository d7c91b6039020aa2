/**
 * Protocol-1 commands (protocol/command.ts, what a migrated `legacy/v1` log holds): verification, tampering, the canonical form (sorted, unique
 * parents, shortest integers) and its limits, the reference sizes, and a fast-check round trip.
 */
import fc from 'fast-check';
import t from 'tap';
import { decodeCommand, encodeCommand, signedBytesOf, signingBytes } from '../protocol/command.js';
import { identityFromSecret, MAX_COMMAND_BYTES, MAX_PARENTS, toHex, verifySignature } from '../protocol/index.js';
import { reasonOf } from '../testkit/vectors.js';
import { concat } from '../testkit/bytes.js';

const A = identityFromSecret(new Uint8Array(32).fill(1));
const B = identityFromSecret(new Uint8Array(32).fill(2));

t.test('commands: verify, tamper, canonical form', async (t) => {
  const g = encodeCommand({ parents: [], author: A.author, seq: 0, payload: Uint8Array.of(1) }, A.sign);
  const h = encodeCommand({ parents: [], author: B.author, seq: 0, payload: Uint8Array.of(2) }, B.sign);
  const [lo, hi] = toHex(g.id) < toHex(h.id) ? [g.id, h.id] : [h.id, g.id];
  const m = encodeCommand({ parents: [hi, lo, hi], author: A.author, seq: 23, payload: new Uint8Array(0) }, A.sign);
  t.same(m.parents.map(toHex), [toHex(lo), toHex(hi)], 'encoder sorts and dedups parents');
  const d = decodeCommand(m.bytes);
  t.equal(toHex(d.id), toHex(m.id));
  t.ok(verifySignature(A.publicKey, signedBytesOf(d.bytes), d.signature), 'verifies');
  t.notOk(verifySignature(B.publicKey, signedBytesOf(d.bytes), d.signature), 'wrong key fails');

  const sigFlip = Uint8Array.from(m.bytes);
  sigFlip[sigFlip.length - 1]! ^= 0x01;
  const ds = decodeCommand(sigFlip);
  t.notOk(verifySignature(A.publicKey, signedBytesOf(ds.bytes), ds.signature), 'tampered signature fails');
  t.not(toHex(ds.id), toHex(m.id), 'tampering changes the id');

  const payloadCmd = encodeCommand({ parents: [], author: A.author, seq: 1, payload: Uint8Array.of(10, 20, 30) }, A.sign);
  const payFlip = Uint8Array.from(payloadCmd.bytes);
  payFlip[payFlip.length - 66 - 1]! ^= 0x80;
  t.notOk(verifySignature(A.publicKey, signedBytesOf(payFlip), decodeCommand(payFlip).signature), 'tampered payload fails');

  // seq 23 is the single byte 0x17 at offset 1 + 1 + 2×34 + 9; 0x18 0x17 is the same number, non-canonical.
  const at = 1 + 1 + 2 * 34 + 9;
  t.equal(m.bytes[at], 0x17);
  t.equal(reasonOf(() => decodeCommand(concat(m.bytes.subarray(0, at), Uint8Array.of(0x18, 0x17), m.bytes.subarray(at + 1)))), 'Malformed', '0x1817 for 23');
  const p0 = m.bytes.subarray(2, 36);
  const p1 = m.bytes.subarray(36, 70);
  t.equal(reasonOf(() => decodeCommand(concat(m.bytes.subarray(0, 2), p1, p0, m.bytes.subarray(70)))), 'Malformed', 'unsorted parents');
  t.equal(reasonOf(() => decodeCommand(concat(m.bytes.subarray(0, 2), p0, p0, m.bytes.subarray(70)))), 'Malformed', 'duplicate parents');
  t.equal(
    reasonOf(() => encodeCommand({ parents: Array.from({ length: MAX_PARENTS + 1 }, (_, i) => new Uint8Array(32).fill(i)), author: A.author, seq: 0, payload: new Uint8Array(0) }, A.sign)),
    'Malformed',
    'too many parents',
  );
  t.equal(reasonOf(() => encodeCommand({ parents: [], author: A.author, seq: 0, payload: new Uint8Array(MAX_COMMAND_BYTES) }, A.sign)), 'TooLarge', 'over the command cap');
  t.equal(reasonOf(() => encodeCommand({ parents: [], author: A.author, seq: -1, payload: new Uint8Array(0) }, A.sign)), 'Malformed', 'negative seq');
  t.equal(reasonOf(() => encodeCommand({ parents: [], author: A.author, seq: 0, payload: new Uint8Array(0) }, () => new Uint8Array(63))), 'Malformed', 'short signature');
  // 100-byte payload, one parent: the size the design notes quote.
  const ref = (s: number) => encodeCommand({ parents: [g.id], author: A.author, seq: s, payload: new Uint8Array(100) }, A.sign).bytes.length;
  t.same([ref(1), ref(24), ref(256), ref(65536)], [214, 215, 216, 218], 'reference command sizes by seq width');
});

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const id32 = fc.uint8Array({ minLength: 32, maxLength: 32 });

t.test('property: commands round trip and verify', async (t) => {
  fc.assert(
    fc.property(
      fc.array(id32, { maxLength: MAX_PARENTS }),
      u32,
      fc.uint8Array({ maxLength: 600 }),
      fc.boolean(),
      (parents, seq, payload, useB) => {
        const who = useB ? B : A;
        const c = encodeCommand({ parents, author: who.author, seq, payload }, who.sign);
        const d = decodeCommand(c.bytes);
        return (
          toHex(d.id) === toHex(c.id) &&
          d.seq === seq &&
          toHex(d.payload) === toHex(payload) &&
          d.parents.length === new Set(parents.map(toHex)).size &&
          toHex(signedBytesOf(d.bytes)) === toHex(signingBytes({ parents, author: who.author, seq, payload })) &&
          verifySignature(who.publicKey, signedBytesOf(d.bytes), d.signature)
        );
      },
    ),
    { numRuns: 300 },
  );
  t.pass('300 runs');
});

/**
 * Compact batches and covered signatures (protocol/compact-batch.ts, protocol/batch-cover.ts;
 * docs/design/bulk-sync.md §2–§3, §7): property tests over random multi-author graphs (every
 * command rebuilt with its exact id, elided signatures decided exactly as a brute-force search of
 * same-author covers says), the attacks of §7 (a forged command inside a covered run, a run whose
 * cover never arrives, a cover by another author), every structural reject, and a capped fuzz.
 */
import fc from 'fast-check';
import t from 'tap';
import { coverBatch } from '../protocol/batch-cover.js';
import { encodeCbor } from '../protocol/cbor.js';
import { decodeCommandV2, encodeCommandV2, heldCommandV2, unsignedOf, verifyCommandV2, type CommandV2 } from '../protocol/command-v2.js';
import { commandBytesOf, decodeBatch, encodeBatch, unsignedOfBatchCommand, type BatchCommand, type BatchInput } from '../protocol/compact-batch.js';
import { CommandKind } from '../protocol/constants-v2.js';
import { SyncwireError } from '../protocol/errors.js';
import { identityFromSecret, toHex, type Identity } from '../protocol/keys.js';
import { mutate } from '../testkit/fuzz-inputs.js';
import { prng } from '../testkit/prng.js';

const SCOPE = new Uint8Array(32).fill(0x11);
const GENESIS = new Uint8Array(32).fill(0x22);
const ids: Identity[] = [1, 2, 3, 4].map((b) => identityFromSecret(new Uint8Array(32).fill(b)));
const keyOf = new Map(ids.map((i) => [toHex(i.author), i.publicKey]));
const MAX = 65536;

/** A random graph in causal order: each command's parents are 1–3 earlier commands (or the genesis). */
function graph(shape: { author: number; parents: number[]; payload: number }[]): CommandV2[] {
  const out: CommandV2[] = [];
  const seqs = new Map<number, number>();
  for (const s of shape) {
    const author = ids[s.author]!;
    const seq = (seqs.get(s.author) ?? 0) + 1;
    seqs.set(s.author, seq);
    const parents = s.parents.filter((p) => p < out.length).map((p) => out[p]!.id);
    const cmd = { parents: parents.length > 0 ? parents : [GENESIS], author: author.author, seq, kind: CommandKind.Data, payload: new Uint8Array(s.payload).fill(seq & 0xff) };
    out.push(encodeCommandV2(SCOPE, cmd, author.sign));
  }
  return out;
}

/** A chain of `n` commands of author `a`, each the only parent of the next. */
function chain(a: number, n: number, first: Uint8Array = GENESIS): CommandV2[] {
  const out: CommandV2[] = [];
  for (let i = 0; i < n; i++) {
    const parents = [i === 0 ? first : out[i - 1]!.id];
    out.push(encodeCommandV2(SCOPE, { parents, author: ids[a]!.author, seq: i + 1, kind: CommandKind.Data, payload: new Uint8Array(100).fill(i) }, ids[a]!.sign));
  }
  return out;
}

const verified = (cmds: BatchCommand[]) => (i: number): boolean => {
  const c = cmds[i]!;
  return c.signature !== null && verifyCommandV2({ ...c, signature: c.signature, bytes: commandBytesOf(c) }, keyOf.get(toHex(c.author))!);
};

/** Brute force: is command k covered — a verified same-author command j ≥ k with k in its past? */
function coveredByBruteForce(cmds: BatchCommand[], k: number, ok: (i: number) => boolean): boolean {
  for (let j = k; j < cmds.length; j++) {
    if (toHex(cmds[j]!.author) !== toHex(cmds[k]!.author) || cmds[j]!.signature === null || !ok(j)) continue;
    const stack = [j];
    const seen = new Set<number>();
    while (stack.length > 0) {
      const x = stack.pop()!;
      if (x === k) return true;
      if (seen.has(x)) continue;
      seen.add(x);
      stack.push(...cmds[x]!.localParents);
    }
  }
  return false;
}

const reason = (f: () => unknown): string => {
  try {
    f();
    return 'ok';
  } catch (err) {
    return err instanceof SyncwireError ? err.reason : `untyped ${String(err)}`;
  }
};

const shapeArb = fc.array(
  fc.record({ author: fc.integer({ min: 0, max: 3 }), parents: fc.uniqueArray(fc.nat({ max: 40 }), { maxLength: 3 }), payload: fc.integer({ min: 0, max: 200 }) }),
  { minLength: 1, maxLength: 30 },
);

t.test('property: every command rebuilds to its exact id, unsigned bytes and signature', async (t) => {
  fc.assert(
    fc.property(shapeArb, fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }), (shape, elide) => {
      const cmds = graph(shape);
      const got = decodeBatch(SCOPE, encodeBatch(cmds.map((command, i) => ({ command, elide: elide[i]! }))), MAX);
      if (got.length !== cmds.length) return false;
      return got.every((g, i) => {
        const c = cmds[i]!;
        const sigOk = elide[i] ? g.signature === null : g.signature !== null && toHex(g.signature) === toHex(c.signature!);
        const bytesOk = toHex(g.bytes) === toHex(elide[i] ? heldCommandV2(c, unsignedOf(c.bytes), c.id).bytes : c.bytes);
        return toHex(g.id) === toHex(c.id) && toHex(unsignedOfBatchCommand(g)) === toHex(unsignedOf(c.bytes)) && bytesOk && g.seq === c.seq && sigOk;
      });
    }),
    { numRuns: 60 },
  );
  t.pass('60 random graphs round trip');
});

t.test('property: a command is authenticated iff signed and valid, or covered by a verified same-author descendant', async (t) => {
  fc.assert(
    fc.property(shapeArb, fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }), (shape, elide) => {
      const cmds = graph(shape);
      const got = decodeBatch(SCOPE, encodeBatch(cmds.map((command, i) => ({ command, elide: elide[i]! }))), MAX);
      const ok = verified(got);
      const result = coverBatch(got, ok);
      return got.every((g, k) => {
        const authentic = coveredByBruteForce(got, k, ok);
        const parentsOk = g.localParents.every((p) => result[p] === null);
        return (result[k] === null) === (authentic && parentsOk);
      });
    }),
    { numRuns: 60 },
  );
  t.pass('cover decisions match the brute force');
});

t.test('a chain becomes one run: 2,000 commands of 100 bytes cost ~102 bytes each, one signature', async (t) => {
  const cmds = chain(0, 2000);
  const bytes = encodeBatch(cmds.map((command, i) => ({ command, elide: i < cmds.length - 1 })));
  t.ok(bytes.length < 2000 * 103, `${bytes.length} bytes for 2,000 commands (${(bytes.length / 2000).toFixed(1)} each; plain: ${cmds[1]!.bytes.length})`);
  const got = decodeBatch(SCOPE, bytes, 1 << 20);
  t.same(got.map((g) => toHex(g.id)), cmds.map((c) => toHex(c.id)), 'every id rebuilt');
  t.equal(got.filter((g) => g.signature !== null).length, 1, 'one signature travels');
  const result = coverBatch(got, verified(got));
  t.ok(result.every((r) => r === null), 'all 2,000 authenticated by the last one');
});

t.test('attack: a forged command inside a covered run fails the cover, and nothing of the run is accepted', async (t) => {
  const cmds = chain(0, 5);
  const bytes = encodeBatch(cmds.map((command, i) => ({ command, elide: i < 4 })));
  // Change one payload byte of the third command (the payloads are 100 × its index).
  const at = Buffer.from(bytes).indexOf(Buffer.from(new Uint8Array(100).fill(2)));
  t.ok(at > 0, 'found the third payload');
  const forged = Uint8Array.from(bytes);
  forged[at + 10] = 0x99;
  const got = decodeBatch(SCOPE, forged, MAX);
  t.not(toHex(got[2]!.id), toHex(cmds[2]!.id), 'the forged command has another id');
  t.not(toHex(got[4]!.id), toHex(cmds[4]!.id), 'and so has the cover, whose signature no longer matches');
  const result = coverBatch(got, verified(got));
  t.same(result, ['uncovered', 'uncovered', 'uncovered', 'uncovered', 'bad-signature'], 'nothing authenticated');
});

t.test('attack: a covered run whose cover never arrives is refused whole', async (t) => {
  const cmds = chain(0, 4);
  const got = decodeBatch(SCOPE, encodeBatch(cmds.map((command) => ({ command, elide: true }))), MAX);
  t.same(coverBatch(got, verified(got)), ['uncovered', 'uncovered', 'uncovered', 'uncovered']);
});

t.test('attack: a cover by another author covers nothing', async (t) => {
  const a = chain(0, 3);
  const b = encodeCommandV2(SCOPE, { parents: [a[2]!.id], author: ids[1]!.author, seq: 1, kind: CommandKind.Data, payload: Uint8Array.of(1) }, ids[1]!.sign);
  const inputs: BatchInput[] = [...a.map((command) => ({ command, elide: true })), { command: b, elide: false }];
  const got = decodeBatch(SCOPE, encodeBatch(inputs), MAX);
  t.same(coverBatch(got, verified(got)), ['uncovered', 'uncovered', 'uncovered', 'parent-failed'], "B's signed command does not cover A's, and cannot be placed without them");
});

t.test('a cover across another author: A ← B ← A still covers (the hash chain runs through B)', async (t) => {
  const a1 = chain(0, 1)[0]!;
  const b1 = encodeCommandV2(SCOPE, { parents: [a1.id], author: ids[1]!.author, seq: 1, kind: CommandKind.Data, payload: Uint8Array.of(2) }, ids[1]!.sign);
  const a2 = encodeCommandV2(SCOPE, { parents: [b1.id], author: ids[0]!.author, seq: 2, kind: CommandKind.Data, payload: Uint8Array.of(3) }, ids[0]!.sign);
  const got = decodeBatch(SCOPE, encodeBatch([{ command: a1, elide: true }, { command: b1, elide: false }, { command: a2, elide: false }]), MAX);
  t.same(coverBatch(got, verified(got)), [null, null, null]);
});

t.test('structural rejects are typed and refuse the whole batch', async (t) => {
  const A = ids[0]!.author;
  const sig = new Uint8Array(64);
  const entry = (parents: unknown[], a = 0, seq = 1, kind = 0, payload: unknown = Uint8Array.of(1), s: unknown = sig) => [parents, a, seq, kind, payload, s];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- hand-built hostile layouts
  const enc = (v: any): Uint8Array => encodeCbor(v);
  const cases: [string, Uint8Array, string][] = [
    ['not an array', enc(1), 'Malformed'],
    ['no authors', enc([[], [entry([GENESIS])]]), 'Malformed'],
    ['author listed twice', enc([[A, A], [entry([GENESIS])]]), 'Malformed'],
    ['author of 7 bytes', enc([[A.subarray(0, 7)], [entry([GENESIS])]]), 'Malformed'],
    ['author index out of range', enc([[A], [entry([GENESIS], 1)]]), 'Malformed'],
    ['parent index of itself', enc([[A], [entry([0])]]), 'Malformed'],
    ['parent index ahead', enc([[A], [entry([GENESIS]), entry([5])]]), 'Malformed'],
    ['parents not ascending', enc([[A], [entry([GENESIS, SCOPE])]]), 'Malformed'],
    ['no parents on a data command', enc([[A], [entry([])]]), 'Malformed'],
    ['signature of 63 bytes', enc([[A], [entry([GENESIS], 0, 1, 0, Uint8Array.of(1), new Uint8Array(63))]]), 'Malformed'],
    ['unknown kind', enc([[A], [entry([GENESIS], 0, 1, 7)]]), 'Malformed'],
    ['negative first seq', enc([[A], [entry([GENESIS], 0, -1)]]), 'Malformed'],
    ['run with one payload', enc([[A], [[[GENESIS], 0, 1, 0, [Uint8Array.of(1)], sig, 0]]]), 'Malformed'],
    ['run with reserved 1', enc([[A], [[[GENESIS], 0, 1, 0, [Uint8Array.of(1), Uint8Array.of(2)], sig, 1]]]), 'Malformed'],
    ['entry of 5', enc([[A], [[[GENESIS], 0, 1, 0, Uint8Array.of(1)]]]), 'Malformed'],
    ['empty entries', enc([[A], []]), 'Malformed'],
    ['a rebuilt command over 1,024 bytes', enc([[A], [entry([GENESIS], 0, 1, 0, new Uint8Array(1000))]]), 'TooLarge'],
  ];
  for (const [name, bytes, want] of cases) t.equal(reason(() => decodeBatch(SCOPE, bytes, MAX)), want, name);
  t.equal(reason(() => decodeBatch(SCOPE, new Uint8Array(100), 99)), 'TooLarge', 'over the caller cap');
});

t.test('fuzz: mutated batches never crash, every failure is typed', async (t) => {
  const base = encodeBatch(graph([{ author: 0, parents: [], payload: 10 }, { author: 1, parents: [0], payload: 10 }, { author: 0, parents: [0, 1], payload: 10 }]).map((command, i) => ({ command, elide: i === 0 })));
  const rnd = prng(17);
  let typed = 0;
  for (let i = 0; i < 3000; i++) {
    const r = reason(() => decodeBatch(SCOPE, mutate(rnd, base, [base]), MAX));
    if (r.startsWith('untyped')) t.fail(`untyped failure: ${r}`);
    else if (r !== 'ok') typed++;
  }
  t.ok(typed > 0, `${typed} of 3,000 mutations refused, all typed`);
});

t.test('decoded commands keep no view of the batch or the input bytes (the decoder reads byte strings in place)', async (t) => {
  const cmds = [...chain(0, 3), ...graph([{ author: 0, parents: [], payload: 200 }, { author: 1, parents: [0], payload: 150 }])];
  const bytes = encodeBatch(cmds.map((command, i) => ({ command, elide: i % 2 === 0 })));
  const got = decodeBatch(SCOPE, bytes, MAX);
  const fields = got.flatMap((c) => [c.payload, c.author, ...c.parents, ...(c.signature === null ? [] : [c.signature])]);
  t.ok(fields.length > got.length * 2, `${fields.length} byte fields`);
  t.ok(fields.every((f) => f.buffer !== bytes.buffer), 'no field is a view of the batch');
  t.ok(got.every((c) => c.payload.buffer === c.bytes.buffer && (c.signature === null || c.signature.buffer === c.bytes.buffer)), "payload and signature are views of the command's own bytes");
  t.same(got.map((c) => toHex(c.bytes)), got.map((c, i) => toHex(c.signature === null ? heldCommandV2(cmds[i]!, unsignedOf(cmds[i]!.bytes), cmds[i]!.id).bytes : cmds[i]!.bytes)), 'bytes: the exact encoding, held (null last) when covered');
  t.same(got.map((c) => toHex(c.payload)), cmds.map((c) => toHex(c.payload)), 'payloads intact');
  const input = Uint8Array.from(cmds[1]!.bytes);
  const one = decodeCommandV2(SCOPE, input);
  t.ok([one.payload, one.author, one.signature!, ...one.parents].every((f) => f.buffer === one.bytes.buffer && f.buffer !== input.buffer), "a decoded command's fields are views of its own copy, not of the input");
  input.fill(0);
  t.same([toHex(one.payload), toHex(one.id)], [toHex(cmds[1]!.payload), toHex(cmds[1]!.id)], 'the input may be reused');
});

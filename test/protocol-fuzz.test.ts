/**
 * Decoder fuzzing: well over 100k random and mutated inputs through SerialFrameDecoder,
 * TcpFrameDecoder, decodeMessageV2, decodeCommandV2 and the sealed-frame opener. Every error must be
 * a SyncwireError, the frame decoders must never throw nor return a frame over their cap,
 * whatever the message and command decoders accept must satisfy every schema limit, and
 * `openFrame` / `Opener.open` return a plaintext only for a frame genuinely sealed under their
 * key (each sequence number once, for the Opener) and otherwise throw SealError only.
 *
 * Seeded PRNG (testkit/prng.ts): the seed is printed; rerun a failure with FUZZ_SEED=<seed>.
 * The generators and mutators are testkit/fuzz-inputs.ts.
 */
import t, { type Test } from 'tap';
import {
  AUTHOR_BYTES,
  compareBytes,
  decodeCommandV2,
  decodeMessageV2,
  encodeCommandV2,
  encodeSerialFrame,
  encodeTcpFrame,
  fromHex,
  ID_BYTES,
  identityFromSecret,
  MAX_COMMAND_BYTES,
  MAX_FRAME_BYTES,
  MAX_PARENTS,
  MIN_FRAME_BYTES,
  openFrame,
  Opener,
  SEAL_MARKER,
  SEAL_OVERHEAD,
  SealError,
  sealFrame,
  SerialFrameDecoder,
  SIGNATURE_BYTES,
  SyncwireError,
  TcpFrameDecoder,
  toHex,
  type FrameDecoder,
  type MessageV2,
  type MessageNameV2,
} from '../protocol/index.js';
// The TypeBox validators the generated checks come from: an independent second opinion.
import { validatorsV2 } from '../protocol/messages-v2.js';
import { concat } from '../testkit/bytes.js';
import { loadVectors } from '../testkit/vectors.js';
import { deepNesting, mutate, randomCbor } from '../testkit/fuzz-inputs.js';
import { prng, type Prng } from '../testkit/prng.js';

const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) >>> 0 : (Date.now() ^ (process.pid << 16)) >>> 0;
t.comment(`FUZZ_SEED=${SEED}`);

const rng = prng(SEED);

// ---------------------------------------------------------------------------------------------
// Corpus: the vectors plus a few more commands.

const messagesV = loadVectors<{ cases: Array<{ cbor: string }>; decode_only: Array<{ cbor: string }>; rejects: Array<{ hex: string }> }>('messages-v2.json');
const messageCorpus = [...messagesV.cases, ...messagesV.decode_only].map((c) => fromHex(c.cbor));
const messageRejects = messagesV.rejects.map((r) => fromHex(r.hex));
const commandsV = loadVectors<{ cases: Array<{ encoding: string; scope_id: string | null; id: string }> }>('commands-v2.json');
/** The scope every fuzzed command is decoded for: the vectors' data scope. */
const SCOPE = fromHex(commandsV.cases.find((c) => c.scope_id !== null)!.scope_id!);
const commandCorpus = commandsV.cases.map((c) => fromHex(c.encoding));
{
  const A = identityFromSecret(new Uint8Array(32).fill(7));
  const parents = commandsV.cases.map((c) => fromHex(c.id));
  for (let n = 1; n <= MAX_PARENTS; n += 4) {
    const ps = Array.from({ length: n }, (_, i) => parents[i % parents.length]!.map((x) => x ^ i));
    commandCorpus.push(encodeCommandV2(SCOPE, { parents: ps, author: A.author, seq: n * 1000, kind: 0, payload: rng.bytes(n * 20) }, A.sign).bytes);
  }
  commandCorpus.push(encodeCommandV2(SCOPE, { parents: [parents[0]!], author: A.author, seq: 0xffffffff, kind: 0, payload: rng.bytes(MAX_COMMAND_BYTES - 120) }, A.sign).bytes);
}

// ---------------------------------------------------------------------------------------------
// Oracles.

interface Stats {
  inputs: number;
  accepted: number;
  failures: string[];
}
const newStats = (): Stats => ({ inputs: 0, accepted: 0, failures: [] });
function fail(s: Stats, what: string, input: Uint8Array): void {
  if (s.failures.length < 5) s.failures.push(`${what}; input ${toHex(input.subarray(0, 64))}${input.length > 64 ? '…' : ''} (${input.length} bytes)`);
}

function checkMessage(s: Stats, input: Uint8Array, cap = MAX_FRAME_BYTES): void {
  s.inputs++;
  let m: MessageV2;
  try {
    m = decodeMessageV2(input, cap);
  } catch (err) {
    if (!(err instanceof SyncwireError)) fail(s, `untyped error ${String(err)}`, input);
    return;
  }
  s.accepted++;
  if (input.length > cap) fail(s, `accepted ${input.length} bytes over cap ${cap}`, input);
  const name: MessageNameV2 = m.type;
  if (!validatorsV2[name].Check(m)) fail(s, `accepted an invalid ${name}`, input);
  const items = m.type === 'Push' ? m.commands : m.type === 'PollResponse' ? m.items : [];
  for (const c of items) if (c.length < 1 || c.length > MAX_COMMAND_BYTES) fail(s, `item of ${c.length} bytes`, input);
}

function checkCommand(s: Stats, input: Uint8Array): void {
  s.inputs++;
  let c;
  try {
    c = decodeCommandV2(SCOPE, input);
  } catch (err) {
    if (!(err instanceof SyncwireError)) fail(s, `untyped error ${String(err)}`, input);
    return;
  }
  s.accepted++;
  const ok =
    c.bytes.length <= MAX_COMMAND_BYTES &&
    c.parents.length <= MAX_PARENTS &&
    c.parents.every((p, i) => p.length === ID_BYTES && (i === 0 || compareBytes(c.parents[i - 1]!, p) < 0)) &&
    c.author.length === AUTHOR_BYTES &&
    c.signature.length === SIGNATURE_BYTES &&
    Number.isInteger(c.seq) &&
    c.seq >= 0 &&
    c.seq <= 0xffffffff &&
    (c.kind === 1) === (c.parents.length === 0) &&
    toHex(c.bytes) === toHex(input);
  if (!ok) fail(s, 'accepted a command outside the limits', input);
}

/** Push `wire` into `dec` in random chunks; check typed errors and frame caps. */
function feed(s: Stats, dec: FrameDecoder, cap: number, wire: Uint8Array, r: Prng, tcp: boolean): Uint8Array[] {
  s.inputs++;
  const frames: Uint8Array[] = [];
  let wasFatal = false;
  let i = 0;
  while (i < wire.length) {
    const n = r.chance(0.3) ? 1 + r.int(4) : 1 + r.int(wire.length);
    const chunk = wire.subarray(i, i + n);
    i += n;
    let res;
    try {
      res = dec.push(chunk);
    } catch (err) {
      fail(s, `push threw ${String(err)}`, wire);
      return frames;
    }
    for (const e of res.errors) if (!(e instanceof SyncwireError)) fail(s, `untyped error ${String(e)}`, wire);
    for (const f of res.frames) {
      if (f.length > cap) fail(s, `frame of ${f.length} bytes over cap ${cap}`, wire);
      if (!tcp && f.length === 0) fail(s, 'empty serial frame returned', wire);
      frames.push(f);
    }
    if (!tcp && res.fatal) fail(s, 'serial decoder reported fatal', wire);
    if (wasFatal && (!res.fatal || res.frames.length > 0)) fail(s, 'TCP decoder recovered from a fatal state without reset', wire);
    wasFatal ||= res.fatal;
  }
  if (frames.length > 0) s.accepted++;
  return frames;
}

function report(t: Test, name: string, s: Stats, ms: number): void {
  t.comment(`${name}: ${s.inputs} inputs, ${s.accepted} accepted, ${ms.toFixed(0)} ms`);
  t.same(s.failures, [], `${name}: no violations (FUZZ_SEED=${SEED})`);
}

// ---------------------------------------------------------------------------------------------

let total = 0;
const started = performance.now();

t.test('decodeMessageV2', async (t) => {
  const s = newStats();
  const t0 = performance.now();
  const corpus = [...messageCorpus, ...commandCorpus, ...messageRejects];
  for (const m of messageCorpus) checkMessage(s, m);
  for (let i = 0; i < 80_000; i++) {
    const k = rng.int(20);
    if (k < 11) checkMessage(s, mutate(rng, rng.pick(corpus), corpus));
    else if (k < 13) checkMessage(s, mutate(rng, mutate(rng, rng.pick(corpus), corpus), corpus));
    else if (k < 16) checkMessage(s, randomCbor(rng, 4));
    else if (k < 17) checkMessage(s, rng.bytes(rng.int(300)));
    else if (k < 18) checkMessage(s, deepNesting(rng));
    else if (k < 19) checkMessage(s, mutate(rng, rng.pick(corpus), corpus), rng.int(400));
    else checkMessage(s, rng.chance(0.05) ? concat(Uint8Array.of(0x81, 0x5a, 0, 1, 0, 1), new Uint8Array(65537)) : rng.pick(corpus), rng.int(120));
  }
  t.ok(s.accepted > 100, 'some mutants still decode (the fuzzer reaches the schema layer)');
  report(t, 'decodeMessageV2', s, performance.now() - t0);
  total += s.inputs;
});

t.test('decodeCommandV2', async (t) => {
  const s = newStats();
  const t0 = performance.now();
  for (const c of commandCorpus) checkCommand(s, c);
  for (let i = 0; i < 40_000; i++) {
    const k = rng.int(10);
    if (k < 6) checkCommand(s, mutate(rng, rng.pick(commandCorpus), commandCorpus));
    else if (k < 8) checkCommand(s, randomCbor(rng, 3));
    else if (k < 9) checkCommand(s, rng.chance(0.1) ? rng.bytes(MAX_COMMAND_BYTES + 1 + rng.int(100)) : rng.bytes(rng.int(300)));
    else checkCommand(s, deepNesting(rng));
  }
  t.ok(s.accepted > 100, 'some mutants still decode');
  report(t, 'decodeCommandV2', s, performance.now() - t0);
  total += s.inputs;
});

t.test('SerialFrameDecoder', async (t) => {
  const s = newStats();
  const t0 = performance.now();
  const caps = [1, 16, 249, 250, 253, 254, 1000, MIN_FRAME_BYTES, MAX_FRAME_BYTES];
  let intact = 0;
  let recovered = 0;
  for (let i = 0; i < 20_000; i++) {
    const cap = rng.pick(caps);
    const dec = new SerialFrameDecoder(cap);
    const parts: Uint8Array[] = [];
    const expected: string[] = [];
    const pieces = 1 + rng.int(5);
    for (let p = 0; p < pieces; p++) {
      const k = rng.int(10);
      const size = rng.chance(0.02) ? cap + rng.int(300) - 150 : rng.int(Math.min(cap, 1500) + 20);
      const len = Math.max(1, Math.min(size, MAX_FRAME_BYTES));
      // Zero-rich bodies pack the most body into the fewest encoded bytes: the cap's edge case.
      const body = rng.chance(0.3) ? new Uint8Array(len) : rng.bytes(len);
      if (k < 4) {
        parts.push(Uint8Array.of(0), encodeSerialFrame(body));
        if (len <= cap) expected.push(toHex(body));
      } else if (k < 7) parts.push(mutate(rng, encodeSerialFrame(body), messageCorpus));
      else if (k < 8) parts.push(rng.bytes(rng.int(600)));
      else if (k < 9) parts.push(encodeSerialFrame(rng.pick(messageCorpus)).subarray(0, rng.int(20)));
      else parts.push(new Uint8Array(rng.int(4)));
    }
    parts.push(Uint8Array.of(0));
    const frames = feed(s, dec, cap, concat(...parts), rng, false);
    // Every intact frame that follows a delimiter comes out, whatever garbage surrounds it.
    const got = new Set(frames.map(toHex));
    for (const e of expected) {
      intact++;
      if (got.has(e)) recovered++;
      else fail(s, `intact ${e.length / 2}-byte frame lost (cap ${cap})`, concat(...parts));
    }
    if (rng.chance(0.1)) {
      dec.reset();
      const body = rng.bytes(1 + rng.int(Math.min(cap, 200)));
      const again = feed(s, dec, cap, encodeSerialFrame(body), rng, false);
      if (again.length !== 1 || toHex(again[0]!) !== toHex(body)) fail(s, 'decoder unusable after reset', body);
    }
    for (const f of frames) checkMessage(s, f);
  }
  t.comment(`SerialFrameDecoder: ${recovered}/${intact} intact frames recovered`);
  report(t, 'SerialFrameDecoder', s, performance.now() - t0);
  total += s.inputs;
});

t.test('TcpFrameDecoder', async (t) => {
  const s = newStats();
  const t0 = performance.now();
  const caps = [0, 1, 100, 1000, MIN_FRAME_BYTES, MAX_FRAME_BYTES];
  for (let i = 0; i < 15_000; i++) {
    const cap = rng.pick(caps);
    const dec = new TcpFrameDecoder(cap);
    const parts: Uint8Array[] = [];
    const pieces = 1 + rng.int(5);
    for (let p = 0; p < pieces; p++) {
      const k = rng.int(10);
      const len = rng.chance(0.05) ? cap + rng.int(3) : rng.int(Math.min(cap, 1500) + 1);
      if (k < 5) parts.push(encodeTcpFrame(rng.bytes(Math.min(len, MAX_FRAME_BYTES))));
      else if (k < 7) parts.push(mutate(rng, encodeTcpFrame(rng.bytes(Math.min(len, 300))), messageCorpus));
      else if (k < 8) parts.push(rng.bytes(rng.int(64)));
      else if (k < 9) parts.push(Uint8Array.of(...rng.bytes(4)), rng.bytes(rng.int(32))); // random length header
      else parts.push(Uint8Array.of(0xff, 0xff, 0xff, 0xff)); // largest declared length
    }
    const frames = feed(s, dec, cap, concat(...parts), rng, true);
    for (const f of frames) if (f.length > 0) checkMessage(s, f);
  }
  report(t, 'TcpFrameDecoder', s, performance.now() - t0);
  total += s.inputs;
});

t.test('sealed frames: openFrame and Opener', async (t) => {
  const s = newStats();
  const t0 = performance.now();
  const key = rng.bytes(32);
  const otherKey = rng.bytes(32);
  /** Every frame sealed under `key`: body hex → plaintext hex. */
  const genuine = new Map<string, string>();
  const pool: Uint8Array[] = [];
  /** The last few sealed: the ones an Opener still takes. */
  const recent: Uint8Array[] = [];
  const seal = (seq: number): Uint8Array => {
    const pt = rng.chance(0.1) ? new Uint8Array(0) : rng.chance(0.7) ? rng.pick(messageCorpus) : rng.bytes(rng.int(300));
    const body = sealFrame(key, seq, pt);
    genuine.set(toHex(body), toHex(pt));
    recent.push(body);
    if (recent.length > 8) recent.shift();
    if (pool.length < 500) pool.push(body);
    else pool[rng.int(pool.length)] = body;
    return body;
  };
  let nextSeq = 0;
  const opener = new Opener(key);
  const openedSeqs = new Set<number>();
  const asMessage = newStats();
  let opened = 0;
  let slowest = 0;
  for (let i = 0; i < 32_000; i++) {
    // Mostly in order, with gaps and late frames; the last quarter runs at the top of the u32 range.
    if (i === 24_000) nextSeq = 0xffffffff - 3000;
    if (i % 4 === 0) {
      if (rng.chance(0.05)) nextSeq += rng.int(200);
      nextSeq = Math.min(0xffffffff, nextSeq);
      seal(rng.chance(0.9) || nextSeq < 70 ? nextSeq++ : nextSeq - 1 - rng.int(70));
    }
    const base = rng.pick(pool);
    let input: Uint8Array;
    const k = rng.int(12);
    if (k < 4) input = mutate(rng, base, pool);
    else if (k < 5) {
      input = Uint8Array.from(base);
      input[rng.int(input.length)]! ^= 1 << rng.int(8);
    } else if (k < 6) input = concat(Uint8Array.of(SEAL_MARKER), rng.bytes(rng.int(rng.chance(0.05) ? 70_000 : 300)));
    else if (k < 7) input = base.subarray(0, rng.int(base.length));
    else if (k < 8) {
      input = Uint8Array.from(base);
      new DataView(input.buffer).setUint32(1, rng.chance(0.5) ? rng.u32() : (new DataView(base.buffer, base.byteOffset).getUint32(1) + 1) >>> 0);
    } else if (k < 9) input = sealFrame(otherKey, Math.min(0xffffffff, rng.int(nextSeq + 10)), rng.pick(messageCorpus));
    else if (k < 10) input = concat(base.subarray(0, SEAL_OVERHEAD - 16), rng.pick(pool).subarray(SEAL_OVERHEAD - 16)); // header swapped onto another frame
    else input = rng.chance(0.8) ? rng.pick(recent) : base; // genuine: new to the Opener, or a replay / too old
    s.inputs++;
    const started = performance.now();
    const want = genuine.get(toHex(input));
    try {
      const r = openFrame(key, input);
      s.accepted++;
      if (want === undefined) fail(s, 'openFrame opened a frame that was never sealed under its key', input);
      else if (toHex(r.plaintext) !== want) fail(s, 'openFrame gave another plaintext', input);
    } catch (err) {
      if (!(err instanceof SealError) || (err.failure !== 'not-sealed' && err.failure !== 'bad-tag')) fail(s, `openFrame threw ${String(err)}`, input);
      else if (want !== undefined) fail(s, 'openFrame refused a genuine frame', input);
    }
    try {
      const r = opener.open(input);
      if (r !== null) {
        opened++;
        const seq = new DataView(input.buffer, input.byteOffset).getUint32(1);
        if (want === undefined || toHex(r) !== want) fail(s, 'Opener opened a frame that was never sealed under its key', input);
        if (openedSeqs.has(seq)) fail(s, `Opener accepted seq ${seq} twice`, input);
        openedSeqs.add(seq);
      }
    } catch (err) {
      if (!(err instanceof SealError)) fail(s, `Opener threw ${String(err)}`, input);
    }
    checkMessage(asMessage, input); // a sealed body never crashes the message decoder
    slowest = Math.max(slowest, performance.now() - started);
  }
  t.ok(opened > 1000, `the Opener opened ${opened} genuine frames`);
  t.same(asMessage.failures, [], 'decodeMessage on the same inputs: typed errors only');
  t.ok(slowest < 1000, `no input took a second (slowest ${slowest.toFixed(1)} ms)`);
  report(t, 'sealed frames', s, performance.now() - t0);
  total += s.inputs;
});

t.test('total', async (t) => {
  t.comment(`${total} fuzz inputs in ${((performance.now() - started) / 1000).toFixed(1)} s (FUZZ_SEED=${SEED})`);
  t.ok(total >= 100_000, `at least 100k inputs (${total})`);
});

/**
 * Fuzz layer 2b of the chaos run (bench/chaos-v2-fuzz.ts): hostile sealed-frame bodies into one
 * long-lived `Opener` (PROTOCOL.md §7.4, unchanged in protocol 2). Protocol-agnostic: the sealed
 * frame format is shared by both versions.
 */
import { toHex } from '../protocol/keys.js';
import { Opener, SEAL_MARKER, SEAL_OVERHEAD, SealError, sealFrame } from '../protocol/seal.js';
import { concat } from '../testkit/bytes.js';
import { hostile } from '../testkit/fuzz-inputs.js';
import { bytes, int, pick, type Random } from '../testkit/prng.js';

/** Counts shared by every fuzz layer. */
export interface Tally {
  inputs: number;
  crashes: number;
  untyped: number;
  hangs: number;
  slowestMs: number;
  samples: string[];
}

/** What the sealed layer saw. */
export interface SealedResult {
  /** Genuine frames the Opener returned a plaintext for. */
  opened: number;
  /** Returned a plaintext for a frame never sealed under its key, a wrong plaintext, or a seq twice. */
  forgeriesOpened: number;
  /** SealError failures thrown, by kind. */
  failures: Record<string, number>;
}

/**
 * Sealed-frame bodies into `openFrame` (through an `Opener` that lives the whole run): mutated
 * genuine frames, random bodies behind the 0x53 marker, altered headers, other keys, replays.
 * Only a genuine frame may open, each sequence number once; anything else must throw SealError
 * (an untyped error is counted in `t.untyped`, a slow input in `t.hangs`).
 */
export async function sealedLayer(rnd: Random, seeds: Uint8Array[], n: number, t: Tally): Promise<SealedResult> {
  const key = bytes(rnd, 32);
  const otherKey = bytes(rnd, 32);
  const genuine = new Map<string, string>(); // body hex → plaintext hex
  const pool: Uint8Array[] = [];
  const recent: Uint8Array[] = []; // the last few sealed: still fresh for the Opener
  let nextSeq = 0;
  const seal = (seq: number): void => {
    const pt = rnd() < 0.1 ? new Uint8Array(0) : pick(rnd, seeds);
    const body = sealFrame(key, seq, pt);
    genuine.set(toHex(body), toHex(pt));
    recent.push(body);
    if (recent.length > 8) recent.shift();
    if (pool.length < 1000) pool.push(body);
    else pool[int(rnd, pool.length)] = body;
  };
  seal(nextSeq++);
  const opener = new Opener(key);
  const seen = new Set<number>();
  const res: SealedResult = { opened: 0, forgeriesOpened: 0, failures: {} };
  for (let i = 0; i < n; i++) {
    if (i % 4 === 0) {
      if (i === Math.floor((n * 3) / 4)) nextSeq = 0xffffffff - 4 * n; // the top of the u32 range too
      if (rnd() < 0.05) nextSeq += int(rnd, 200);
      nextSeq = Math.min(nextSeq, 0xffffffff);
      seal(rnd() < 0.9 || nextSeq < 70 ? nextSeq++ : nextSeq - 1 - int(rnd, 70));
    }
    const base = pick(rnd, pool);
    const r = rnd();
    let input: Uint8Array;
    if (r < 0.35) input = hostile(rnd, [base]); // bit flips, truncation, splices of a genuine frame
    else if (r < 0.45) input = concat(Uint8Array.of(SEAL_MARKER), bytes(rnd, int(rnd, rnd() < 0.01 ? 70_000 : 400)));
    else if (r < 0.55) {
      input = base.slice();
      new DataView(input.buffer).setUint32(1, rnd() < 0.5 ? Math.floor(rnd() * 0x100000000) : nextSeq); // header seq altered
    } else if (r < 0.65) input = sealFrame(otherKey, Math.min(0xffffffff, int(rnd, nextSeq + 10)), pick(rnd, seeds));
    else if (r < 0.72) input = concat(base.subarray(0, SEAL_OVERHEAD - 16), pick(rnd, pool).subarray(SEAL_OVERHEAD - 16)); // another frame's header
    else if (r < 0.75) input = bytes(rnd, int(rnd, SEAL_OVERHEAD + 2)).map((b, j) => (j === 0 ? SEAL_MARKER : b)); // too short
    else input = rnd() < 0.8 ? pick(rnd, recent) : base; // genuine: fresh, or a replay / too old
    if (i % 500 === 0) await new Promise((r) => setImmediate(r));
    const want = genuine.get(toHex(input));
    const s0 = performance.now();
    try {
      const pt = opener.open(input);
      if (pt !== null) {
        const seq = new DataView(input.buffer, input.byteOffset).getUint32(1);
        if (want === undefined || toHex(pt) !== want || seen.has(seq)) {
          res.forgeriesOpened++;
          if (t.samples.length < 5) t.samples.push(`Opener opened a non-genuine frame ${toHex(input.subarray(0, 40))}`);
        } else res.opened++;
        seen.add(seq);
      }
    } catch (err) {
      if (err instanceof SealError) res.failures[err.failure] = (res.failures[err.failure] ?? 0) + 1;
      else {
        t.untyped++;
        if (t.samples.length < 5) t.samples.push(`untyped from Opener.open(${toHex(input.subarray(0, 40))}): ${String(err)}`);
      }
    }
    const d = performance.now() - s0;
    if (d > t.slowestMs) t.slowestMs = d;
    if (d > 1000) t.hangs++;
  }
  return res;
}

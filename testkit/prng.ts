/**
 * Seeded pseudo-random numbers for tests, fuzzers and benchmarks (never for keys or nonces).
 *
 * {@link mulberry32} is the one generator; {@link xorshift32} stays only because the chaos fuzz
 * figures in `bench/chaos-v2.json` are drawn from its sequence (seed 0xc0ffee), and a different
 * sequence would change them. Both return floats in [0, 1) and are deterministic per seed.
 * The helpers below draw exactly one number per call ({@link bytes}: one per byte), so a caller's
 * sequence does not depend on which helper it uses.
 */

/** A source of floats in [0, 1). `Math.random` is one. */
export type Random = () => number;

/**
 * mulberry32: 32-bit state, fast, good enough for test inputs. The simulated UART's generator is
 * the one copy (product code cannot import the testkit, the testkit can import it).
 */
import { mulberry32 } from '../firmware-sim/uart/sim-line.js';

export { mulberry32 };

/** xorshift32 (seed 0 is taken as 1). Only for the chaos fuzz; new code uses {@link mulberry32}. */
export function xorshift32(seed: number): Random {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x100000000;
  };
}

/** Integer in [0, n) (0 when n ≤ 1); one draw. */
export const int = (rnd: Random, n: number): number => Math.floor(rnd() * n);

/** One element of a non-empty `xs`; one draw. */
export function pick<T>(rnd: Random, xs: readonly T[]): T {
  const x = xs[int(rnd, xs.length)];
  if (x === undefined && xs.length === 0) throw new RangeError('pick from an empty list');
  return x as T;
}

/** `n` random bytes, one draw each. */
export function bytes(rnd: Random, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = int(rnd, 256);
  return b;
}

/** The helpers above bound to one source, for code that passes a generator around. */
export class Prng {
  constructor(readonly random: Random) {}
  /** A float in [0, 1). */
  next(): number {
    return this.random();
  }
  /** An unsigned 32-bit integer. */
  u32(): number {
    return int(this.random, 0x100000000);
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return int(this.random, n);
  }
  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.random() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return pick(this.random, xs);
  }
  bytes(n: number): Uint8Array {
    return bytes(this.random, n);
  }
}

/** A {@link Prng} over {@link mulberry32}(`seed`). */
export const prng = (seed: number): Prng => new Prng(mulberry32(seed));

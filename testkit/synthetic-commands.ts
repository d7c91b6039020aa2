/**
 * Structurally valid commands for tests, benchmarks and the crash writer. Their signature is
 * 64 zero bytes: stores check structure, not signatures, so nothing here costs an ed25519 sign.
 * Never feed these to a peer that verifies.
 */
import { encodeCommand, type Command } from '../protocol/command.js';
import { MAX_PARENTS } from '../protocol/constants.js';
import { mulberry32 } from './prng.js';

const ZERO_SIGNATURE = new Uint8Array(64);

/** Author fingerprint used when none is given. */
export const SYNTHETIC_AUTHOR = Uint8Array.from([0x5e, 0x4e, 0x7d, 0x1c, 0, 0, 0, 1]);

/** An unsigned-in-effect command with the given parents (sorted by the encoder). */
export function syntheticCommand(parents: Uint8Array[], seq: number, payload: Uint8Array, author = SYNTHETIC_AUTHOR): Command {
  return encodeCommand({ parents, author, seq, payload }, () => ZERO_SIGNATURE);
}

/**
 * `n` commands in a causal order forming a random DAG with chains, forks, several roots and
 * merges of up to {@link MAX_PARENTS} heads; deterministic for a given seed. Authors rotate over
 * `authors` fingerprints.
 */
export function randomDag(n: number, seed: number, authors = 3): Command[] {
  const rand = mulberry32(seed);
  const pick = (k: number): number => Math.floor(rand() * k);
  const out: Command[] = [];
  const heads = new Set<number>();
  for (let i = 0; i < n; i++) {
    const r = rand();
    let ps: number[];
    if (i === 0 || r < 0.02) ps = [];
    else if (r < 0.55) ps = [i - 1];
    else if (r < 0.8) ps = [pick(i)];
    else if (r < 0.93) ps = [pick(i), pick(i), pick(i)].slice(0, 2 + pick(2));
    else ps = [...heads].slice(-MAX_PARENTS);
    ps = [...new Set(ps)];
    for (const p of ps) heads.delete(p);
    heads.add(i);
    const author = SYNTHETIC_AUTHOR.slice();
    author[7] = i % authors;
    const payload = Uint8Array.from({ length: pick(120) }, () => pick(256));
    out.push(syntheticCommand(ps.map((p) => out[p]!.id), i, payload, author));
  }
  return out;
}

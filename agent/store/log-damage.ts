/**
 * Damage a log the way storage does, for the corruption tests and the chaos scenario: flip one
 * bit, zero one 512-byte sector (what an SD card does on a failed write), or cut the file. And
 * the check that matters: which commands outside the changed bytes did not survive.
 */
import { randomBytes } from 'node:crypto';
import type { Command } from '../../protocol/command.js';
import { recordHead } from './log-format.js';

/** Sector size zeroed by the 'sector' damage. */
export const SECTOR_BYTES = 512;

/** One damage: `[start, end)` are the bytes actually changed (a cut: from the cut to the old end). */
export interface Damage {
  kind: 'flip' | 'sector' | 'truncate';
  start: number;
  end: number;
}

/** A damaged copy of `log` and what changed; `rand` returns floats in [0, 1). */
export function applyDamage(log: Uint8Array, kind: Damage['kind'], rand: () => number): { bytes: Buffer; damage: Damage } {
  const bytes = Buffer.from(log);
  const at = Math.floor(rand() * log.length);
  if (kind === 'flip') {
    bytes[at]! ^= 1 << Math.floor(rand() * 8);
    return { bytes, damage: { kind, start: at, end: at + 1 } };
  }
  if (kind === 'truncate') return { bytes: bytes.subarray(0, at), damage: { kind, start: at, end: log.length } };
  const s0 = at - (at % SECTOR_BYTES);
  const s1 = Math.min(s0 + SECTOR_BYTES, log.length);
  let first = -1;
  let last = -1;
  for (let i = s0; i < s1; i++) {
    if (bytes[i] !== 0) {
      if (first < 0) first = i;
      last = i;
    }
    bytes[i] = 0;
  }
  return { bytes, damage: first < 0 ? { kind, start: s0, end: s0 } : { kind, start: first, end: last + 1 } };
}

/** How `cmds` (whose records span `spans` in the log) fared under `damage`. */
export interface Survival {
  /** Commands whose record the damage overlaps (they may be lost). */
  inside: number;
  /** Commands outside the damage that are not `present`: must be 0. */
  lostOutside: number;
  /** Commands inside the damage that are not `present`. */
  lostInside: number;
}

/** Count what survived; `present` says whether a command is still held (indexed or kept as an orphan). */
export function survivalOf(cmds: readonly Command[], spans: ReadonlyArray<readonly [number, number]>, damage: Damage, present: (id: Uint8Array) => boolean): Survival {
  const out: Survival = { inside: 0, lostOutside: 0, lostInside: 0 };
  cmds.forEach((c, i) => {
    const [a, b] = spans[i]!;
    const hit = damage.start < damage.end && a < damage.end && damage.start < b;
    const here = present(c.id);
    if (hit) {
      out.inside++;
      if (!here) out.lostInside++;
    } else if (!here) out.lostOutside++;
  });
  return out;
}

/**
 * What a power cut in the middle of a write leaves: the first `have` bytes of a v2 record that
 * promises a `promised`-byte body (random content), so a reader sees an incomplete last record.
 */
export function tornRecord(promised: number, have: number): Buffer {
  const body = randomBytes(promised);
  return Buffer.concat([recordHead(body), body]).subarray(0, have);
}

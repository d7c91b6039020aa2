/**
 * Checking protocol code against docs/vectors/: the vectors' readable form (byte strings as
 * `{"$hex": "..."}`, everything else plain JSON) written independently of scripts/gen-vectors.ts,
 * the files' loader, and the reason code of a refusal.
 */
import { readFileSync } from 'node:fs';
import { SyncwireError } from '../protocol/errors.js';
import { fromHex, toHex } from '../protocol/keys.js';

/** A decoded value in the vectors' JSON form. */
export type Readable = null | boolean | number | string | { $hex: string } | Readable[] | { [k: string]: Readable };

/** A decoded value (message, CBOR value) in its readable form. */
export function toReadable(v: unknown): Readable {
  if (v instanceof Uint8Array) return { $hex: toHex(v) };
  if (Array.isArray(v)) return v.map(toReadable);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, Readable> = {};
    for (const [k, x] of Object.entries(v)) out[k] = toReadable(x);
    return out;
  }
  return v as Readable;
}

/** The value a readable form stands for (`{"$hex"}` objects back to Uint8Array). */
export function fromReadable(v: Readable): unknown {
  if (Array.isArray(v)) return v.map(fromReadable);
  if (v !== null && typeof v === 'object') {
    if ('$hex' in v && typeof v.$hex === 'string' && Object.keys(v).length === 1) return fromHex(v.$hex);
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = fromReadable(x as Readable);
    return out;
  }
  return v;
}

/** Parse docs/vectors/`file` (the caller states its shape). */
export function loadVectors<T>(file: string): T {
  return JSON.parse(readFileSync(new URL(`../docs/vectors/${file}`, import.meta.url), 'utf8')) as T;
}

/** The reason of the SyncwireError `fn` throws; 'no error' or 'untyped …' otherwise, which no vector states. */
export function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof SyncwireError) return err.reason;
    return `untyped ${String(err)}`;
  }
  return 'no error';
}

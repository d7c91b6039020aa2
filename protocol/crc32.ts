/**
 * CRC-32 (IEEE 802.3: reflected polynomial 0xEDB88320, initial value and final XOR 0xFFFFFFFF —
 * the CRC of zlib, PNG and Ethernet; `crc32("123456789") = 0xCBF43926`).
 *
 * `node:zlib` exports a native `crc32` only from Node 20.15 and 22.2; the supported floor is
 * older (see `engines`), and a named import of a missing export fails the whole module graph at
 * load time (it broke armv7 Pis on Node 20.11). So the native function is looked up on the
 * namespace object and a table-driven implementation stands in where it is absent. Pure: no
 * I/O, no state beyond the table built once at load.
 */
import * as zlib from 'node:zlib';

type Crc32 = (data: Uint8Array, value?: number) => number;

const TABLE = /* @__PURE__ */ (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/**
 * CRC-32 of `data` in plain TypeScript, continuing from `value` (the CRC of the bytes before
 * `data`; default 0, the CRC of nothing). Same results as zlib's `crc32` for every input.
 */
export function crc32Portable(data: Uint8Array, value = 0): number {
  let c = ~value >>> 0;
  for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

// `zlib.crc32` is typed as always present by @types/node of a newer line; read it as optional.
const native = (zlib as unknown as { crc32?: Crc32 }).crc32;

/**
 * CRC-32 of `data`, continuing from `value` (default 0). Uses `zlib.crc32` where this Node has
 * it (it is about 10× faster), else {@link crc32Portable}; both return an unsigned 32-bit integer.
 */
export const crc32: Crc32 = typeof native === 'function' ? native : crc32Portable;

/** True when {@link crc32} is the native zlib function (reported by `status` and the benches). */
export const crc32IsNative: boolean = typeof native === 'function';

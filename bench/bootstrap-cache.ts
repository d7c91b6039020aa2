/**
 * The bootstrap suite's command set: N signed commands in one chain (100-byte payloads), signed
 * once and cached in the OS temp dir (keyed by count) between runs. Shared by the requester side
 * (bench/bootstrap.ts) and the responder child process (bench/bootstrap-responder.ts).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeCommand, encodeCommand, type Command } from '../protocol/command.js';
import { generateIdentity, identityFromSecret, type Identity } from '../protocol/keys.js';
import { payload } from './util.js';

export function cacheFile(n: number): string {
  return join(tmpdir(), `syncwire-bench-bootstrap-${n}.bin`);
}

/** Read the cache file, or null when missing or unreadable. */
export function loadCache(n: number): { id: Identity; cmds: Command[] } | null {
  const file = cacheFile(n);
  if (!existsSync(file)) return null;
  try {
    const buf = readFileSync(file);
    const id = identityFromSecret(new Uint8Array(buf.subarray(0, 32)));
    const cmds: Command[] = [];
    let at = 32;
    while (at < buf.length) {
      const len = buf.readUInt32LE(at);
      cmds.push(decodeCommand(new Uint8Array(buf.subarray(at + 4, at + 4 + len))));
      at += 4 + len;
    }
    return cmds.length === n ? { id, cmds } : null;
  } catch {
    return null;
  }
}

/** Load the cached commands or sign them (and cache them). */
export function loadOrSign(n: number): { id: Identity; cmds: Command[] } {
  const cached = loadCache(n);
  if (cached !== null) return cached;
  const id = generateIdentity();
  const cmds: Command[] = [];
  let parents: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const c = encodeCommand({ parents, author: id.author, seq: i + 1, payload: payload(100, i) }, id.sign);
    cmds.push(c);
    parents = [c.id];
  }
  const parts: Buffer[] = [Buffer.from(id.secretKey)];
  for (const c of cmds) {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(c.bytes.length);
    parts.push(len, Buffer.from(c.bytes));
  }
  writeFileSync(cacheFile(n), Buffer.concat(parts));
  return { id, cmds };
}

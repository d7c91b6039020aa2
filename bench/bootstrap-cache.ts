/**
 * The bootstrap suite's command set on the v2 engine: one open-read scope ({@link BOOT_SCOPE})
 * whose genesis and N data commands (one chain, 100-byte payloads) were committed once by the
 * set's identity into a data directory in the OS temp dir (keyed by N), beside a flat file of
 * that identity's secret and every command's encoding (genesis first). The responder child
 * (bench/bootstrap-responder.ts) opens the data directory (a restart: nothing is verified again);
 * the requester side (bench/bootstrap.ts) reads the flat file for its verify ceiling. Built on the
 * first run, reused after.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import { decodeCommandV2, type CommandV2 } from '../protocol/command-v2.js';
import { Role } from '../protocol/constants-v2.js';
import { generateIdentity, identityFromSecret, type Identity } from '../protocol/keys.js';
import { payload } from './util.js';

/** The scope the bootstrap set is committed to. */
export const BOOT_SCOPE = 'fleet/bootstrap';

/** A bootstrap set: its author (the responder's identity), its data directory, and its commands. */
export interface BootSet {
  id: Identity;
  dataDir: string;
  /** The genesis, then the N data commands. */
  cmds: CommandV2[];
}

/** Directory of the set of `n` commands (`v2` in the name: the v1 cache files are another format). */
export function cacheDir(n: number): string {
  return join(tmpdir(), `syncwire-bench-bootstrap-v2-${n}`);
}

/** The identity and data directory of the set of `n` (what the responder needs: no command decoded), or null when missing. */
export function loadSetOwner(n: number): Omit<BootSet, 'cmds'> | null {
  const dir = cacheDir(n);
  const file = join(dir, 'set.bin');
  const dataDir = join(dir, 'data');
  if (!existsSync(file) || !existsSync(dataDir)) return null;
  return { id: identityFromSecret(new Uint8Array(readFileSync(file).subarray(0, 32))), dataDir };
}

/** Read the set of `n`, or null when missing or unreadable. */
export function loadSet(n: number): BootSet | null {
  const dir = cacheDir(n);
  const file = join(dir, 'set.bin');
  const dataDir = join(dir, 'data');
  if (!existsSync(file) || !existsSync(dataDir)) return null;
  try {
    const buf = readFileSync(file);
    const id = identityFromSecret(new Uint8Array(buf.subarray(0, 32)));
    const cmds: CommandV2[] = [];
    let at = 32;
    while (at < buf.length) {
      const len = buf.readUInt32LE(at);
      const bytes = new Uint8Array(buf.subarray(at + 4, at + 4 + len));
      cmds.push(decodeCommandV2(cmds.length === 0 ? null : cmds[0]!.id, bytes));
      at += 4 + len;
    }
    return cmds.length === n + 1 ? { id, dataDir, cmds } : null;
  } catch {
    return null;
  }
}

/** Load the set of `n`, or build it: a fresh identity commits the scope and its `n` commands (durability none: a cache). */
export async function loadOrBuild(n: number): Promise<BootSet> {
  const cached = loadSet(n);
  if (cached !== null) return cached;
  const dir = cacheDir(n);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const dataDir = join(dir, 'data');
  const id = generateIdentity();
  const e = await EngineV2.open({ identity: id, dataDir, durability: { mode: 'none' }, scopes: { max: Infinity } });
  const cmds: CommandV2[] = [];
  try {
    const host = await e.createScope({ name: BOOT_SCOPE, members: [{ publicKey: id.publicKey, roles: Role.Read | Role.Write | Role.Admin }], openRead: true });
    for (let i = 0; i < n; i++) await e.commit(BOOT_SCOPE, payload(100, i));
    for (let h = 0; h < host.store.size; h++) cmds.push(decodeCommandV2(h === 0 ? null : host.id, host.store.bytesOf(h).slice()));
  } finally {
    await e.close();
  }
  const parts: Buffer[] = [Buffer.from(id.secretKey)];
  for (const c of cmds) {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(c.bytes.length);
    parts.push(len, Buffer.from(c.bytes));
  }
  writeFileSync(join(dir, 'set.bin'), Buffer.concat(parts));
  return { id, dataDir, cmds };
}

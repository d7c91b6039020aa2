/**
 * The layout of a v2 data directory (docs/design/v2-scopes.md §5.1, §5.5):
 *
 * ```
 * <dataDir>/scopes/<64 hex scope id>/   one scope store (scope-store.ts)
 * <dataDir>/scopes/legacy-v1/           the v1 store, opened with the v1 DiskStore
 * ```
 *
 * Listing the held scopes reads only each directory's genesis (the first record of its
 * `members.log`). The v1 migration moves `commands.log` and its side files (quarantines and their
 * sidecars, upgrade backups) into `scopes/legacy-v1/` by renames on one file system, side files
 * first and `commands.log` last: the move of `commands.log` is the commit point, and every step
 * is repeated harmlessly, so a crash anywhere leaves a state the next start finishes.
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { decodeHeldCommandV2, type CommandV2 } from '../../protocol/command-v2.js';
import { CommandKind } from '../../protocol/constants-v2.js';
import { decodeGenesisBody } from '../../protocol/genesis.js';
import { fromHex, toHex } from '../../protocol/keys.js';
import type { Logger } from '../node/log.js';
import { DiskStore, LOG_FILE } from './disk-store.js';
import { HEADER_BYTES, fsyncDir } from './log-format.js';
import { FORMAT_V3, RECORD_HEAD_BYTES_V3, checkHeaderV3 } from './log-format-v3.js';
import { inspectLog } from './log-salvage.js';
import { MEMBERS_FILE } from './members-log.js';
import type { DiskStoreOptions } from './disk-store.js';
import { DiskScopeStore, type DiskScopeStoreOptions } from './scope-store.js';
import { ScopeStoreError } from './scope-store-errors.js';

/** Directory of the scopes inside a data directory. */
export const SCOPES_DIR = 'scopes';
/** Directory (inside {@link SCOPES_DIR}) of the migrated v1 store. */
export const LEGACY_DIR = 'legacy-v1';
/** Name of the legacy scope in the API and CLI. */
export const LEGACY_SCOPE_NAME = 'legacy/v1';
const SCOPE_DIR_PATTERN = /^[0-9a-f]{64}$/;
const LEGACY_ID_CONTEXT = new TextEncoder().encode('syncwire-legacy-v1');

/** `<dataDir>/scopes/<hex id>`. */
export const scopeDirOf = (dataDir: string, scopeId: Uint8Array): string => join(dataDir, SCOPES_DIR, toHex(scopeId));

/** `<dataDir>/scopes/legacy-v1`. */
export const legacyDirOf = (dataDir: string): string => join(dataDir, SCOPES_DIR, LEGACY_DIR);

/** The local id of `legacy/v1` (§5.5): `H("syncwire-legacy-v1" ‖ id of its first command)`. */
export function legacyScopeId(firstCommandId: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(LEGACY_ID_CONTEXT).update(firstCommandId).digest());
}

/** A scope held in a data directory. */
export interface HeldScope {
  id: Uint8Array;
  name: string;
  dir: string;
}

/** Result of {@link listScopes}. */
export interface ScopeListing {
  scopes: HeldScope[];
  /** Directories that look like scopes but whose genesis cannot be read or does not match the name. */
  unreadable: Array<{ dir: string; why: string }>;
}

/**
 * The scopes of `dataDir`, reading only each genesis (name and id); `legacy-v1` is not listed.
 * A directory without a readable genesis whose id is its name is reported in `unreadable`.
 */
export function listScopes(dataDir: string): ScopeListing {
  const root = join(dataDir, SCOPES_DIR);
  const out: ScopeListing = { scopes: [], unreadable: [] };
  if (!existsSync(root)) return out;
  for (const name of readdirSync(root).sort()) {
    if (!SCOPE_DIR_PATTERN.test(name)) continue;
    const dir = join(root, name);
    try {
      const g = readGenesis(dir);
      if (toHex(g.id) !== name) throw new Error(`its genesis id is ${toHex(g.id)}`);
      out.scopes.push({ id: fromHex(name), name: decodeGenesisBody(g.payload).name, dir });
    } catch (err) {
      out.unreadable.push({ dir, why: (err as Error).message });
    }
  }
  return out;
}

/** The genesis of a scope directory: the first record of its `members.log`, read without opening the store. */
export function readGenesis(dir: string): CommandV2 {
  const path = join(dir, MEMBERS_FILE);
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(HEADER_BYTES + RECORD_HEAD_BYTES_V3 + 1024);
    const n = readSync(fd, buf, 0, buf.length, 0);
    if (checkHeaderV3(buf.subarray(0, Math.min(n, HEADER_BYTES)), path) !== 3) throw new Error('members.log has no header');
    const c = FORMAT_V3.check(buf, HEADER_BYTES, n, true);
    if (c.kind !== 'ok') throw new Error(`members.log has no first record (${c.kind})`);
    const cmd = decodeHeldCommandV2(null, buf.subarray(HEADER_BYTES + c.head, HEADER_BYTES + c.head + c.len));
    if (cmd.kind !== CommandKind.Genesis) throw new Error('the first record of members.log is not a genesis');
    return cmd;
  } finally {
    closeSync(fd);
  }
}

/**
 * Create the directory of the scope `genesis` defines and store the genesis in it (written and
 * synced before this resolves). Returns the open store.
 * @throws ScopeStoreError 'wrong-scope' when `genesis` is not kind 1, StoreError 'already-open'
 *   when that scope is open; a directory already holding this scope is simply opened.
 */
export async function createScopeDir(dataDir: string, genesis: CommandV2, opts: Omit<DiskScopeStoreOptions, 'scopeId'>): Promise<DiskScopeStore> {
  if (genesis.kind !== CommandKind.Genesis) throw new ScopeStoreError('wrong-scope', undefined, 'a scope is created from a genesis command (kind 1)');
  const root = join(dataDir, SCOPES_DIR);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const dir = scopeDirOf(dataDir, genesis.id);
  const fresh = !existsSync(dir);
  const store = await DiskScopeStore.open(dir, { ...opts, scopeId: genesis.id });
  if (fresh) fsyncDir(root);
  if (store.size === 0) {
    store.appendWritten(genesis, { frontier: 0 });
    await store.sync();
  }
  return store;
}

/** One rename of the v1 migration. */
export interface MigrationStep {
  from: string;
  to: string;
}

/** The renames still to do, in order (side files first, `commands.log` last); [] when nothing is left. */
export function v1MigrationSteps(dataDir: string): MigrationStep[] {
  const legacy = legacyDirOf(dataDir);
  const side = existsSync(dataDir) ? readdirSync(dataDir).filter((n) => n.startsWith(`${LOG_FILE}.`)).sort() : [];
  const steps = side.map((n) => ({ from: join(dataDir, n), to: join(legacy, n) }));
  if (existsSync(join(dataDir, LOG_FILE))) steps.push({ from: join(dataDir, LOG_FILE), to: join(legacy, LOG_FILE) });
  return steps;
}

/** What {@link migrateV1} did. */
export interface MigrationReport {
  /** Files moved by this call. */
  moved: string[];
  /** Commands in the legacy log, when this call moved `commands.log`. */
  commands?: number;
}

/**
 * §5.5 step 1: move a v1 store into `scopes/legacy-v1/` (renames on one file system; both
 * directories fsynced after). Idempotent: with nothing left to move it does nothing.
 * @throws ScopeStoreError 'bad-segment' when `legacy-v1/` already holds a `commands.log` while
 *   the data directory holds another one (two v1 logs: the operator must choose).
 */
export function migrateV1(dataDir: string, logger?: Logger): MigrationReport {
  const steps = v1MigrationSteps(dataDir);
  if (steps.length === 0) return { moved: [] };
  const legacy = legacyDirOf(dataDir);
  const main = join(dataDir, LOG_FILE);
  if (existsSync(main) && existsSync(join(legacy, LOG_FILE))) {
    throw new ScopeStoreError('bad-segment', legacy, `${main} and ${join(legacy, LOG_FILE)} both exist; move one away`);
  }
  const root = join(dataDir, SCOPES_DIR);
  const hadRoot = existsSync(root);
  mkdirSync(legacy, { recursive: true, mode: 0o700 });
  if (!hadRoot) fsyncDir(dataDir);
  fsyncDir(root);
  const commands = existsSync(main) ? inspectLog(main).indexed : undefined;
  for (const s of steps) renameSync(s.from, s.to);
  fsyncDir(legacy);
  fsyncDir(dataDir);
  if (commands !== undefined) logger?.info({ commands, dir: legacy }, `migrated the v1 store (${commands} commands) to the read-only scope ${LEGACY_SCOPE_NAME}`);
  return commands === undefined ? { moved: steps.map((s) => s.to) } : { moved: steps.map((s) => s.to), commands };
}

/**
 * Open `legacy/v1` with the v1 store (log format v2, v1 commands), or null when there is none.
 * It is read-only by use: the engine never appends to it (refusing commits is its job, §5.5).
 */
export async function openLegacyV1(dataDir: string, opts: DiskStoreOptions): Promise<DiskStore | null> {
  const dir = legacyDirOf(dataDir);
  if (!existsSync(join(dir, LOG_FILE))) return null;
  return DiskStore.open(dir, opts);
}

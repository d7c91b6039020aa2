/**
 * `syncwire commit` with no agent running, on a protocol-2 data directory: the scopes are opened
 * directly (the caller holds the data directory's lock) by an {@link EngineV2} with no links, the
 * command is committed to the scope the flags or config name — `--scope`, else `scopes.default`,
 * else the only scope held, as the running agent resolves it (node-scopes.ts) — and the engine is
 * closed (every scope store flushed and fsynced, whatever the durability setting).
 *
 * The data directory is prepared as `syncwire agent` prepares it at start (run-node-v2.ts): a v1
 * `commands.log` is moved to the read-only scope `legacy/v1` and each `scopes.create` entry not
 * held yet is created, so the scope an agent would commit to exists offline too. The session
 * never prunes: retention is the agent's business (its role decides it, and `commit` cannot know
 * whether the directory is a gateway's), so every scope is held `forever` while it is open.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fromHex, toHex } from '../../protocol/keys.js';
import type { Logger } from '../node/log.js';
import { LOG_FILE } from '../store/disk-store.js';
import { legacyScopeId, migrateV1, openLegacyV1 } from '../store/scope-dir.js';
import { EngineV2 } from '../sync/engine-v2.js';
import { reportLineFailure } from './commit-agent.js';
import type { ResolvedConfig } from './config.js';
import { storeOpenFailure } from './data-dir.js';
import { EXIT } from './exit-codes.js';
import { loadKeyFile } from './keys.js';
import type { InputLine } from './line-reader.js';
import { NodeScopes, ScopeError, type LegacyScope } from './node-scopes.js';
import { resolveScopes } from './scope-config.js';
import { writeOut } from './stdout.js';

/** Where and how to commit offline on protocol 2: the resolved config, and `--scope` if given. */
export interface ScopeStoreTarget {
  cfg: ResolvedConfig;
  scope: string | undefined;
}

/** The engine's and stores' lines: repairs made on open (a torn tail cut) are the operator's business too. */
function stderrLogger(): Logger {
  const line = (fields: object, msg?: string): void => void process.stderr.write(`syncwire commit: ${msg ?? ''} ${JSON.stringify(fields)}\n`);
  return { debug: () => undefined, info: line, warn: line, error: line };
}

/** Open the data directory's scopes (see the module comment), run `fn`, close everything. */
async function withScopes<T>(t: ScopeStoreTarget, fn: (scopes: NodeScopes) => Promise<T>): Promise<T> {
  const { cfg } = t;
  const identity = loadKeyFile(cfg.keyFile);
  const logger = stderrLogger();
  if (existsSync(join(cfg.dataDir, LOG_FILE))) migrateV1(cfg.dataDir, logger);
  const v1 = await openLegacyV1(cfg.dataDir, { durability: cfg.durability, logger }).catch((err: unknown) => Promise.reject(storeOpenFailure(err, cfg.dataDir)));
  try {
    const legacy: LegacyScope | null = v1 && v1.size > 0 ? { id: legacyScopeId(v1.idOf(0)), store: v1 } : null;
    // The role only changes defaults that an offline session does not use (max, device scopes, retention).
    const sc = resolveScopes(cfg, 'agent', { peerId: identity.peerId, publicKeyHex: toHex(identity.publicKey) });
    const engine = await EngineV2.open({
      identity,
      trust: { mode: cfg.trust.mode, keys: cfg.trust.keys.map(fromHex) },
      dataDir: cfg.dataDir,
      durability: cfg.durability,
      scopes: { join: sc.join, retention: { '*': 'forever' }, max: Infinity },
      logger,
    }).catch((err: unknown) => Promise.reject(storeOpenFailure(err, cfg.dataDir)));
    const scopes = new NodeScopes(engine, legacy, sc.default);
    try {
      for (const c of sc.create) {
        if (engine.scope(c.name) !== undefined) continue;
        await engine.createScope({ name: c.name, openRead: c.openRead, members: c.members.map((m) => ({ publicKey: fromHex(m.key), roles: m.roles })), retention: c.retention });
      }
      return await fn(scopes);
    } finally {
      scopes.close();
      await engine.close();
    }
  } finally {
    await v1?.close();
  }
}

/**
 * A {@link ScopeError} as the agent path reports the API's answer to it (commit-agent.ts):
 * `scope_required` is a usage error (exit 2) with the hint, the others exit 1.
 */
function scopeFailure(err: ScopeError): { message: string; status: number } {
  if (err.reason === 'scope_required') return { message: `${err.message} (give --scope NAME, or set scopes.default in the agent's config)`, status: EXIT.usage };
  return { message: `${err.reason}: ${err.message}`, status: 1 };
}

/**
 * Commit one payload to the target scope and print its id; resolves to the exit status.
 * @throws what the store throws (StoreWriteError: exit 75 when full); a ScopeError is reported here.
 */
export async function commitOneIntoScope(t: ScopeStoreTarget, payload: Uint8Array): Promise<number> {
  return withScopes(t, async (scopes) => {
    try {
      const { id } = await scopes.commit(payload, t.scope);
      await writeOut(toHex(id) + '\n');
      return EXIT.ok;
    } catch (err) {
      if (!(err instanceof ScopeError)) throw err;
      const f = scopeFailure(err);
      process.stderr.write(`syncwire commit: refused: ${f.message}\n`);
      return f.status;
    }
  });
}

/**
 * Commit every line to the target scope, in order, printing each id once it is committed. The
 * first failure stops: reported with its line number; the commits before it are kept (the stores
 * are closed, so fsynced, either way); the exit status is the error's (75 for a full disk).
 */
export async function commitLinesIntoScope(t: ScopeStoreTarget, lines: AsyncIterable<InputLine>): Promise<number> {
  // Loaded only here: it imports every error class.
  const { exitStatusOf } = await import('./exit-status.js');
  return withScopes(t, async (scopes) => {
    let done = 0;
    let lineNo = 0;
    try {
      for await (const line of lines) {
        lineNo = line.lineNo;
        await writeOut(toHex((await scopes.commit(line.bytes, t.scope)).id) + '\n');
        done++;
      }
      return EXIT.ok;
    } catch (err) {
      const f = err instanceof ScopeError ? scopeFailure(err) : { message: (err as Error).message ?? String(err), status: exitStatusOf(err) };
      return reportLineFailure(err, lineNo, done, f);
    }
  });
}

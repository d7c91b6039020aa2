/**
 * An agent's whole local HTTP API in the test process, for CLI tests that need endpoints the
 * `syncwire agent` process may not serve yet: a real Engine on a real DiskStore, the real
 * server (agent/api/server.ts) on a unix socket (and optionally TCP with a token), status and
 * commit from testkit/basic-host.ts, and the command stream and `show` from
 * agent/api/commands-stream.ts wired to the engine's `commands` event. CLI processes talk to it
 * exactly as to a running agent.
 */
import { join } from 'node:path';
import type { ServerResponse } from 'node:http';
import { ApiError } from '../agent/api/api-error.js';
import { apiHostFor } from './basic-host.js';
import type { FeedSource } from '../agent/api/command-feed.js';
import { showCommandJson, writeCommandStream } from '../agent/api/commands-stream.js';
import { sendError } from '../agent/api/respond.js';
import { startApiServer, type ApiServer } from '../agent/api/server.js';
import { DiskStore } from '../agent/store/disk-store.js';
import { Engine } from '../agent/sync/engine.js';
import { StoreWriteError } from '../agent/store/write-error.js';
import { generateIdentity, toHex, type Identity } from '../protocol/keys.js';

/** A running in-process API agent. */
export interface ApiAgent {
  engine: Engine;
  socketPath: string;
  /** The TCP port when started with a token, else null. */
  tcpPort: number | null;
  /** Commit `text` (UTF-8) and return the id's hex. */
  commit(text: string): Promise<string>;
  /** Hex ids of the store in log order. */
  ids(): string[];
  /** Stop the server (cutting follow streams), then the engine and the store. */
  close(): Promise<void>;
}

/** Options of {@link startApiAgent}. */
export interface ApiAgentOptions {
  /** Also listen on 127.0.0.1 (any port) guarded by this token. */
  token?: string;
  identity?: Identity;
  /** Commits through the API after this many succeed are refused as a full disk would refuse them. */
  diskFullAfter?: number;
}

/** Start an agent on a DiskStore in `dataDir`, its API on `<dataDir>/status.sock`. */
export async function startApiAgent(dataDir: string, opts: ApiAgentOptions = {}): Promise<ApiAgent> {
  const store = await DiskStore.open(dataDir, { durability: { mode: 'always' } });
  const engine = new Engine({ identity: opts.identity ?? generateIdentity(), store });
  const feed: FeedSource = {
    store,
    onAdded: (listener) => {
      engine.on('commands', listener);
      return () => void engine.off('commands', listener);
    },
  };
  const stop = new AbortController();
  const base = apiHostFor({ engine, snapshot: () => ({ peerId: engine.peerId, commands: store.size }) });
  const streamCommands = (_req: unknown, res: ServerResponse, query: URLSearchParams): void => {
    writeCommandStream(res, feed, query, { signal: stop.signal }).catch((err: unknown) => {
      if (err instanceof ApiError && !res.headersSent) sendError(res, err);
      else res.destroy();
    });
  };
  let committed = 0;
  const commit = (payload: Uint8Array): ReturnType<typeof base.commit> => {
    if (opts.diskFullAfter !== undefined && committed >= opts.diskFullAfter) {
      return Promise.reject(new StoreWriteError('disk-full', 'ENOSPC', 'commands.log: the disk is full; the command was not stored'));
    }
    committed++;
    return base.commit(payload);
  };
  const server: ApiServer = await startApiServer(
    { socketPath: join(dataDir, 'status.sock'), ...(opts.token !== undefined ? { tcp: { host: '127.0.0.1', port: 0, token: opts.token } } : {}) },
    { ...base, commit, streamCommands, showCommand: (id) => showCommandJson(store, id) },
  );
  return {
    engine,
    socketPath: server.socketPath,
    tcpPort: server.tcpPort,
    commit: async (text) => toHex(await engine.commit(new TextEncoder().encode(text))),
    ids: () => Array.from({ length: store.size }, (_, h) => toHex(store.idOf(h))),
    close: async () => {
      stop.abort();
      await server.close();
      await engine.close();
      await store.close();
    },
  };
}

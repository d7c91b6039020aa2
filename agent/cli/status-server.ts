/**
 * The local control endpoint: a unix socket (mode 0600 from the moment it can be reached, so
 * only the agent's user may use it)
 * speaking one JSON line each way per connection:
 *
 * - `{"op":"status"}` → `{"ok":true,"status":<Snapshot>}`
 * - `{"op":"commit","payload":"<hex>"}` → `{"ok":true,"id":"<hex>"}` once durable
 *
 * and `{"ok":false,"error":"..."}` on anything else. `syncwire status` and `syncwire commit` are
 * its clients; committing through the running agent pushes at once to its subscribers.
 */
import { unlinkSync } from 'node:fs';
import net from 'node:net';
import { fromHex, toHex } from '../../protocol/keys.js';
import type { Engine } from '../sync/engine.js';
import { listenPrivate } from './private-socket.js';
import type { Snapshot } from './snapshot.js';

/** Largest request line accepted, bytes (a commit payload in hex). */
const MAX_REQUEST = 1 << 20;
/** Default of {@link StatusServerOptions.idleTimeoutMs}. */
export const STATUS_IDLE_TIMEOUT_MS = 30_000;
/** Most status connections served at once (each buffers up to {@link MAX_REQUEST}). */
const MAX_STATUS_CONNECTIONS = 16;

/** A listening status socket. */
export interface StatusServer {
  readonly path: string;
  close(): Promise<void>;
}

/** Options of {@link startStatusServer}. */
export interface StatusServerOptions {
  /** A connection that sends nothing for this long is closed. Default {@link STATUS_IDLE_TIMEOUT_MS}. */
  idleTimeoutMs?: number;
}

/**
 * Listen on `path` (a stale socket file there is removed first: the caller holds the data
 * directory's lock, so no live agent owns it). The socket is never reachable with a mode looser
 * than 0600 (see {@link listenPrivate}). At most 16 connections at once, each closed after
 * `idleTimeoutMs` of silence, each request line at most 1 MiB.
 */
export async function startStatusServer(path: string, engine: Engine, snapshot: () => Snapshot, opts: StatusServerOptions = {}): Promise<StatusServer> {
  try {
    unlinkSync(path);
  } catch {
    /* none */
  }
  const idleMs = opts.idleTimeoutMs ?? STATUS_IDLE_TIMEOUT_MS;
  const server = net.createServer((sock) => {
    let buf = '';
    let done = false;
    sock.setEncoding('utf8');
    sock.setTimeout(idleMs, () => sock.destroy());
    sock.on('error', () => sock.destroy());
    sock.on('data', (chunk: string) => {
      if (done) return;
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0 && buf.length <= MAX_REQUEST) return;
      done = true;
      sock.pause();
      if (nl < 0 || nl > MAX_REQUEST) return reply(sock, { ok: false, error: 'request too large' });
      const line = buf.slice(0, nl);
      buf = '';
      void handle(line, engine, snapshot).then((r) => reply(sock, r));
    });
  });
  server.maxConnections = MAX_STATUS_CONNECTIONS;
  await listenPrivate(server, path);
  server.unref();
  return {
    path,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        try {
          unlinkSync(path);
        } catch {
          /* gone */
        }
      }),
  };
}

function reply(sock: net.Socket, body: object): void {
  if (!sock.destroyed) sock.end(JSON.stringify(body) + '\n');
}

async function handle(line: string, engine: Engine, snapshot: () => Snapshot): Promise<object> {
  let req: { op?: unknown; payload?: unknown };
  try {
    req = JSON.parse(line) as typeof req;
  } catch {
    return { ok: false, error: 'request is not JSON' };
  }
  try {
    if (req.op === 'status') return { ok: true, status: snapshot() };
    if (req.op === 'commit' && typeof req.payload === 'string') {
      const id = await engine.commit(fromHex(req.payload));
      return { ok: true, id: toHex(id) };
    }
  } catch (err) {
    // `reason` lets a client tell a full disk (try again later) from other refusals.
    const reason = (err as { reason?: unknown }).reason;
    return { ok: false, error: (err as Error).message, ...(typeof reason === 'string' ? { reason } : {}) };
  }
  return { ok: false, error: `unknown request ${JSON.stringify(req.op)}` };
}

/**
 * Send one request to the socket at `path` and return the parsed answer.
 * @throws Error with code `ENOENT`/`ECONNREFUSED` when no agent listens there.
 */
export function askStatusSocket(path: string, request: object, timeoutMs = 10000): Promise<{ ok: boolean; error?: string; reason?: string; status?: Snapshot; id?: string }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(path);
    let buf = '';
    const timer = setTimeout(() => sock.destroy(new Error(`no answer from ${path} within ${timeoutMs} ms`)), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(JSON.stringify(request) + '\n'));
    sock.on('data', (c: string) => (buf += c));
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(buf) as { ok: boolean });
      } catch {
        reject(new Error(`bad answer from ${path}`));
      }
    });
  });
}

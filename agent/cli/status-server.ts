/**
 * The local control endpoint: a unix socket (mode 0600, so only the agent's user may use it)
 * speaking one JSON line each way per connection:
 *
 * - `{"op":"status"}` → `{"ok":true,"status":<Snapshot>}`
 * - `{"op":"commit","payload":"<hex>"}` → `{"ok":true,"id":"<hex>"}` once durable
 *
 * and `{"ok":false,"error":"..."}` on anything else. `syncwire status` and `syncwire commit` are
 * its clients; committing through the running agent pushes at once to its subscribers.
 */
import { chmodSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { fromHex, toHex } from '../../protocol/keys.js';
import type { Engine } from '../sync/engine.js';
import type { Snapshot } from './snapshot.js';

/** Largest request line accepted, bytes (a commit payload in hex). */
const MAX_REQUEST = 1 << 20;

/** A listening status socket. */
export interface StatusServer {
  readonly path: string;
  close(): Promise<void>;
}

/**
 * Listen on `path` (a stale socket file there is removed first: the caller holds the data
 * directory's lock, so no live agent owns it).
 */
export async function startStatusServer(path: string, engine: Engine, snapshot: () => Snapshot): Promise<StatusServer> {
  try {
    unlinkSync(path);
  } catch {
    /* none */
  }
  const server = net.createServer((sock) => {
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('error', () => sock.destroy());
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_REQUEST) return reply(sock, { ok: false, error: 'request too large' });
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      sock.pause();
      void handle(buf.slice(0, nl), engine, snapshot).then((r) => reply(sock, r));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(path, 0o600);
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

/**
 * Raw bytes to a unix or TCP socket and what comes back: for tests of servers that must answer
 * or close on malformed input (the HTTP API), below any client library.
 */
import net from 'node:net';

/** What {@link socketExchange} saw. */
export interface Exchange {
  /** Everything the server sent, as UTF-8. */
  answer: string;
  /** Whether the server closed the connection within the wait. */
  closed: boolean;
}

/**
 * Connect to the unix socket `path`, write `chunks` in order (stopping if the server closed),
 * and collect the answer until the server closes or `timeoutMs` (default 10 s) passes; the
 * connection is destroyed afterwards either way.
 */
export async function socketExchange(path: string, chunks: (string | Buffer)[], timeoutMs = 10_000): Promise<Exchange> {
  const sock = net.connect(path);
  let answer = '';
  sock.setEncoding('utf8');
  sock.on('data', (c: string) => (answer += c));
  sock.on('error', () => undefined);
  await new Promise((r) => sock.once('connect', r));
  for (const c of chunks) if (!sock.destroyed) sock.write(c);
  let timer: NodeJS.Timeout | undefined;
  const closed = await Promise.race([
    new Promise<boolean>((r) => sock.once('close', () => r(true))),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs))),
  ]);
  clearTimeout(timer);
  sock.destroy();
  return { answer, closed };
}

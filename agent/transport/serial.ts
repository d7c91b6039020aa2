/**
 * Serial transport: `serial:/dev/ttyUSB0?baud=115200` (default 115200 baud, 8N1). Frames are
 * COBS + CRC-32 with a 0x00 delimiter (`protocol/serial-frame.ts`), and messages travel in
 * chunks under a selective-repeat ARQ (`protocol/serial-arq.ts`, `arq-link.ts`): a noisy line
 * loses a chunk, not a whole message, and only the lost chunk is sent again. The transport is a dialer
 * over the device: when the port closes (`disconnected: true` on unplug) or errors, the link
 * closes and `open` is retried with backoff until the device returns, which yields a new link.
 *
 * A UART has no hang-up signal: closing one end is not seen by the other, whose link stays open
 * until its own side fails. The sync protocol's timeouts cover that.
 */
import type { SerialPort as SerialPortType } from 'serialport';
import { SerialFrameDecoder, encodeSerialFrame } from '../../protocol/serial-frame.js';
import { TransportError } from './errors.js';
import type { OpenedTransport, ResolvedOptions } from './options.js';
import { RedialTransport } from './redial.js';
import { ArqLink } from './arq-link.js';
import type { StreamLink } from './stream-link.js';
import { SEAL_PARAM, assertNoQuery, intParam, sealParam } from './url.js';

/** Written once on open: ends any partial frame the receiver holds from before (line noise, a reset). */
const RESYNC = Uint8Array.of(0);

/**
 * Build a serial transport from a parsed `serial:` URL. Sealing (`seal=`) defaults to `prefer`:
 * a cable has no third party on it, and a small device of this revision may not seal (a legacy
 * device, without ephemeral keys, needs `seal=off`).
 */
export async function openSerial(url: URL, display: string, o: ResolvedOptions): Promise<OpenedTransport> {
  assertNoQuery(url, ['baud', SEAL_PARAM], display);
  if (url.host !== '') throw new TransportError('BadUrl', `${display}: write serial:/dev/ttyX, not serial://host/...`);
  const path = decodeURIComponent(url.pathname);
  if (path === '' || path === '/') throw new TransportError('BadUrl', `${display}: missing device path`);
  const baudRate = intParam(url, 'baud', 115200);
  const sealPolicy = sealParam(url, 'prefer', display);
  // Loaded here, not at the top: agents without a serial link never load the native binding.
  const { SerialPort } = await import('serialport');
  const description = `serial:${path}`;

  const openOnce = async (signal: AbortSignal): Promise<StreamLink> => {
    // `SerialPort` spreads its options over the detected binding, so an injected one wins; its
    // typings omit `binding`, hence the cast.
    const options = { path, baudRate, autoOpen: false, highWaterMark: o.highWaterMark, ...(o.binding ? { binding: o.binding } : {}) };
    const port = new SerialPort(options as ConstructorParameters<typeof SerialPort>[0]);
    await new Promise<void>((resolve, reject) => {
      port.open((err) => (err ? reject(new TransportError('ConnectFailed', `${description}: ${err.message}`, { cause: err })) : resolve()));
    });
    keepPollInterests(port.port);
    if (signal.aborted) {
      closePort(port);
      throw new TransportError('Closed', 'transport closed');
    }
    return new ArqLink(port, {
      description,
      baudRate,
      decoder: new SerialFrameDecoder(o.maxFrame),
      encode: encodeSerialFrame,
      maxFrame: o.maxFrame,
      sealPolicy,
      // A UART drains ~11.5 kB/s at best (far less when lossy): a 64 KiB queue would hold
      // seconds of stale answers. Keep it to ~1.5 s of a clean 115200-baud line.
      highWaterMark: Math.min(o.highWaterMark, 16 * 1024),
      preamble: RESYNC,
      // Let queued frames reach the wire before closing; an unplugged port fails drain at once.
      shutdown: () => port.drain(() => closePort(port)),
      abort: () => closePort(port),
    });
  };
  return new RedialTransport(display, openOnce, o).start();
}

/** Close without ever raising an `error` event (a callback is always given). */
function closePort(port: SerialPortType): void {
  if (port.isOpen && !port.closing) port.close(() => undefined);
}

/** The part of bindings-cpp's (unix) `Poller` this module relies on. */
interface PollerLike {
  poll(flag?: number): void;
  listenerCount(event: string): number;
}

const POLL_FIXED = Symbol('syncwire.pollFixed');
const UV_READABLE = 1;
const UV_WRITABLE = 2;
const UV_DISCONNECT = 4;

/**
 * Work around a bindings-cpp 13 bug on Linux/macOS: its native `Poller::poll` re-arms the
 * `uv_poll` with only the newest interest, so when a read re-arms "readable" while a write waits
 * for "writable" (after EAGAIN: a full tx buffer), the write waits until a byte happens to
 * arrive, which on a one-way flood is never. Seen here with a socat PTY pair. The fix re-requests
 * every interest that still has a waiter. Bindings without such a poller (Windows, the simulator,
 * a future fixed release) are left alone.
 */
function keepPollInterests(binding: unknown): void {
  const poller = (binding as { poller?: Partial<PollerLike> & { [POLL_FIXED]?: true } } | undefined)?.poller;
  if (poller === undefined || poller[POLL_FIXED] || typeof poller.poll !== 'function' || typeof poller.listenerCount !== 'function') return;
  const poll = poller.poll.bind(poller);
  const count = poller.listenerCount.bind(poller);
  // `once()` calls `poll()` before adding its own listener, so the count covers the others.
  poller.poll = (flag = 0): void => poll(flag
    | (count('readable') > 0 ? UV_READABLE : 0)
    | (count('writable') > 0 ? UV_WRITABLE : 0)
    | (count('disconnect') > 0 ? UV_DISCONNECT : 0));
  poller[POLL_FIXED] = true;
}

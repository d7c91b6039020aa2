/**
 * Link-layer ARQ for serial lines (docs/PROTOCOL.md §2.1.1): selective-repeat retransmission of
 * message chunks. The implementation lives in `protocol/arq/`, one file per part:
 *
 * - `wire.ts`: typed DATA / FRAG / ACK / RST frames and their bytes;
 * - `sender.ts` (with `send-queue.ts`), `receiver.ts` (with `reassembly.ts`);
 * - `rtt.ts`: the RTT estimator and the chunk-size control; `line.ts`: the outgoing line model;
 * - `endpoint.ts`: {@link ArqEndpoint}, the pure facade (time passed in, no timers, no I/O);
 * - `driver.ts`: {@link ArqDriver}, its pump and single timer with an injected scheduler.
 *
 * This module re-exports their public API for existing importers.
 */
export {
  ARQ_ACK_BYTES, ARQ_DATA_HEADER, ARQ_FRAG_HEADER, ARQ_MAX_CHUNK, ARQ_MAX_WINDOW, ARQ_RST_BYTES,
  decodeArqFrame, encodeArqFrame, isArqFrame,
  type AckFrame, type ArqFrame, type ArqFrameProblem, type ArqMalformed, type DataFrame, type FragFrame, type RstFrame,
} from './arq/wire.js';
export { ArqEndpoint, type ArqOptions } from './arq/endpoint.js';
export type { ArqStats } from './arq/stats.js';
export { ArqDriver, type ArqDriverOptions, type ArqScheduler } from './arq/driver.js';

/**
 * First-byte values and bits.
 * @deprecated The values overlap (an ACK's first byte is the LAST flag): use {@link encodeArqFrame}
 * and {@link decodeArqFrame}, which name each frame kind.
 */
export const ArqKind = {
  /** Bit 0 set: DATA or FRAG. */
  Data: 0x01,
  /** DATA/FRAG flag: last chunk of a message. */
  Last: 0x02,
  /** DATA/FRAG flag: first chunk of a stream epoch (seq 0). */
  Start: 0x04,
  /** DATA flag: this is a FRAG (part of a chunk). */
  Frag: 0x08,
  /** Acknowledgement. */
  Ack: 0x02,
  /** Reset request. */
  Rst: 0x04,
} as const;

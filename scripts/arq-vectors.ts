/**
 * ARQ test vectors (`docs/vectors/arq.json`, docs/PROTOCOL.md §2.1.1 and §13): one frame of each
 * kind and a worked exchange, all produced by the real {@link ArqEndpoint} on a scripted clock.
 *
 * The exchange is a script: every step is one call on one endpoint (`send`, `poll`, `receive`,
 * `reset`) at a given time, with what the call returned. `test/vectors.test.ts` replays it on two
 * fresh endpoints built with the same options and checks every output byte for byte (encode) and
 * every delivered message (decode); {@link readArqFrame} / {@link writeArqFrame} check each frame's
 * fields both ways. A frame "lost on the line" is simply never received.
 */
import { ArqEndpoint, type ArqOptions } from '../protocol/arq/endpoint.js';
import { decodeArqFrame, encodeArqFrame } from '../protocol/arq/wire.js';
import { encodeSerialFrame } from '../protocol/serial-frame.js';
import { fromHex, toHex } from '../protocol/keys.js';

/** Readable fields of one ARQ frame body (the shape the vector file prints). */
export type ArqFrameFields =
  | { kind: 'DATA'; last: boolean; start: boolean; epoch: number; seq: number; data: string }
  | { kind: 'FRAG'; last: boolean; start: boolean; epoch: number; seq: number; offset: number; total: number; data: string }
  | { kind: 'ACK'; epoch: number; next: number; sack: number; sacked_seqs: number[] }
  | { kind: 'RST'; epoch: number };

/**
 * Parse an ARQ frame body into its fields (the layout of PROTOCOL.md §2.1.1, decoded by
 * `protocol/arq/wire.ts`).
 * @throws RangeError for a body that is no well-formed ARQ frame.
 */
export function readArqFrame(b: Uint8Array): ArqFrameFields {
  const f = decodeArqFrame(b);
  switch (f.kind) {
    case 'data':
      return { kind: 'DATA', last: f.last, start: f.start, epoch: f.epoch, seq: f.seq, data: toHex(f.data) };
    case 'frag':
      return { kind: 'FRAG', last: f.last, start: f.start, epoch: f.epoch, seq: f.seq, offset: f.offset, total: f.total, data: toHex(f.data) };
    case 'ack': {
      const sacked: number[] = [];
      for (let i = 0; i < 32; i++) if ((f.sack >>> i) & 1) sacked.push((f.next + 1 + i) & 0xff);
      return { kind: 'ACK', epoch: f.epoch, next: f.next, sack: f.sack, sacked_seqs: sacked };
    }
    case 'rst':
      return { kind: 'RST', epoch: f.epoch };
    case 'malformed':
      throw new RangeError(`not an ARQ frame (${f.problem}): ${toHex(b)}`);
  }
}

/** Encode ARQ frame fields (the inverse of {@link readArqFrame}; `sacked_seqs` is ignored). */
export function writeArqFrame(f: ArqFrameFields): Uint8Array {
  switch (f.kind) {
    case 'DATA':
      return encodeArqFrame({ kind: 'data', epoch: f.epoch, seq: f.seq, last: f.last, start: f.start, data: fromHex(f.data) });
    case 'FRAG':
      return encodeArqFrame({ kind: 'frag', epoch: f.epoch, seq: f.seq, last: f.last, start: f.start, offset: f.offset, total: f.total, data: fromHex(f.data) });
    case 'ACK':
      return encodeArqFrame({ kind: 'ack', epoch: f.epoch, next: f.next, sack: f.sack });
    case 'RST':
      return encodeArqFrame({ kind: 'rst', epoch: f.epoch });
  }
}

/** One step of the worked exchange. */
export type ArqStep =
  | { at: number; side: 'S' | 'R'; call: 'send'; message: string; note: string }
  | { at: number; side: 'S' | 'R'; call: 'reset'; note: string }
  | { at: number; side: 'S' | 'R'; call: 'poll'; out: Array<{ body: string; serial_frame: string; fields: ArqFrameFields; lost?: true }>; note: string }
  | { at: number; side: 'S' | 'R'; call: 'receive'; body: string; delivered: string[]; note: string };

/** Endpoint options of the exchange (the test builds its endpoints from these). */
export const ARQ_EXCHANGE_OPTIONS: { S: ArqOptions & { epochs: number[] }; R: ArqOptions & { epochs: number[] } } = {
  S: { initialChunk: 32, minChunk: 16, maxChunk: 32, epochs: [0x5a, 0x7e] },
  R: { initialChunk: 32, minChunk: 16, maxChunk: 32, epochs: [0xa5, 0xc3] },
};

/** An endpoint whose epochs are the given bytes, in order (the random source is scripted). */
export function scriptedEndpoint(o: ArqOptions & { epochs: number[] }): ArqEndpoint {
  const { epochs, ...opts } = o;
  let i = 0;
  return new ArqEndpoint({ ...opts, random: () => (epochs[Math.min(i++, epochs.length - 1)]! + 0.5) / 256 });
}

/**
 * Run the exchange: S sends a 78-byte PollRequest (3 chunks) and an Unsubscribe (1 chunk); chunk 1
 * is lost; R's ACK reports it with SACK bits; S's chunk size halves and it resends chunk 1 as two
 * FRAGs; R delivers both messages. Then R restarts, S's next chunk meets an unknown epoch, R
 * answers RST, S restarts its stream under a new epoch with START, R delivers.
 */
export function arqExchange(pollRequest: Uint8Array, unsubscribe: Uint8Array): ArqStep[] {
  const ends = { S: scriptedEndpoint(ARQ_EXCHANGE_OPTIONS.S), R: scriptedEndpoint(ARQ_EXCHANGE_OPTIONS.R) };
  const steps: ArqStep[] = [];
  const frame = (b: Uint8Array, lost = false) => ({ body: toHex(b), serial_frame: toHex(encodeSerialFrame(b)), fields: readArqFrame(b), ...(lost ? { lost: true as const } : {}) });
  const send = (at: number, side: 'S' | 'R', m: Uint8Array, note: string): void => {
    ends[side].send(m);
    steps.push({ at, side, call: 'send', message: toHex(m), note });
  };
  const poll = (at: number, side: 'S' | 'R', note: string, lose: number[] = []): Uint8Array[] => {
    const out = ends[side].poll(at);
    steps.push({ at, side, call: 'poll', out: out.map((b, i) => frame(b, lose.includes(i))), note });
    return out.filter((_, i) => !lose.includes(i));
  };
  const receive = (at: number, side: 'S' | 'R', b: Uint8Array, note: string): void => {
    const got = ends[side].receive(b, at);
    steps.push({ at, side, call: 'receive', body: toHex(b), delivered: got.map(toHex), note });
  };

  const due = (side: 'S' | 'R', now: number): number => now + (ends[side].nextWakeup(now) ?? Number.NaN);

  send(0, 'S', pollRequest, 'S queues a 78-byte PollRequest');
  send(0, 'S', unsubscribe, 'S queues an Unsubscribe');
  const first = poll(0, 'S', 'S cuts 32-byte chunks: seq 0 (START), 1, 2 (LAST: ends the PollRequest), 3 (LAST: the whole Unsubscribe); seq 1 is lost on the line', [1]);
  receive(5, 'R', first[0]!, 'R adopts epoch 0x5a from the START chunk; seq 0 is in order, no message complete yet');
  receive(5, 'R', first[1]!, 'R: seq 2 arrives before seq 1, a gap: buffered, an ACK is due at once');
  receive(5, 'R', first[2]!, 'R: seq 3 is buffered too');
  const ack1 = poll(due('R', 5), 'R', 'R acknowledges: next = 1, SACK bits 0 and 1 (seqs 2 and 3 arrived)');
  receive(10, 'S', ack1[0]!, 'S: seq 0 acknowledged (RTT sample 10 ms), seqs 2 and 3 SACKed; seq 1 is now a known hole');
  const t1 = due('S', 10);
  const resend = poll(t1, 'S', 'S: the hole times out (2 x min RTT + 10 ms, + 25 ms for the ACK that may queue behind data); the loss halves the chunk size 32 -> 16, so the 32-byte chunk 1 goes again as two FRAGs');
  receive(t1 + 5, 'R', resend[0]!, 'R: bytes 0..15 of chunk 1');
  receive(t1 + 5, 'R', resend[1]!, 'R: chunk 1 complete; seqs 1-3 now in order: both messages delivered');
  const ack2 = poll(due('R', t1 + 5), 'R', 'R acknowledges everything: next = 4, no SACK bits');
  receive(t1 + 10, 'S', ack2[0]!, 'S: all four chunks acknowledged, nothing in flight');

  const t2 = t1 + 100;
  ends.R.reset();
  steps.push({ at: t2, side: 'R', call: 'reset', note: 'R restarts (say, a device reboot): it forgets epoch 0x5a; its own outgoing stream now has epoch 0xc3' });
  send(t2, 'S', unsubscribe, 'S queues another Unsubscribe');
  let lap = poll(t2, 'S', 'S sends it as seq 4 of epoch 0x5a (DATA, LAST, no START)');
  let now = t2;
  for (let round = 0; round < 8; round++) {
    receive(now + 5, 'R', lap[0]!, 'R: a non-START chunk of an epoch it is not in; seq < 64, so it is kept aside and RST waits until the epoch has gone 200 ms without START');
    const w = ends.R.nextWakeup(now + 5);
    if (w !== null) break;
    now = due('S', now + 5);
    lap = poll(now, 'S', 'S: no ACK within the RTO (doubled per round without progress): seq 4 again');
  }
  now += 5;
  const rst = poll(due('R', now), 'R', 'R answers RST for epoch 0x5a');
  receive(now + 5, 'S', rst[0]!, 'S: RST for its current epoch after part of the stream was acknowledged: new epoch 0x7e, every message not fully acknowledged is re-sent from its first byte, from seq 0');
  const restart = poll(due('S', now + 5), 'S', 'S: seq 0 of epoch 0x7e with START and LAST: the Unsubscribe');
  receive(now + 10, 'R', restart[0]!, 'R adopts epoch 0x7e from the START chunk and delivers the Unsubscribe');
  const ack3 = poll(due('R', now + 10), 'R', 'R acknowledges: next = 1');
  receive(now + 15, 'S', ack3[0]!, 'S: acknowledged; both ends are in step again');
  return steps;
}

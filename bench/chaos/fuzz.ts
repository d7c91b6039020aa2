/**
 * Fuzz: random and mutated inputs into the frame decoders, the message decoder and a live
 * agent's links (memory links and a real serial transport on a simulated UART), while a good
 * peer keeps syncing through the same agent.
 */
import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { SerialPortStream } from '@serialport/stream';
import { createMemoryLinkPair } from '../../agent/memory-link.js';
import type { Link } from '../../agent/link.js';
import { MemoryStore } from '../../agent/store/memory-store.js';
import { Engine, type EngineOptions } from '../../agent/sync/engine.js';
import type { PeerSession } from '../../agent/sync/peer-session.js';
import { openTransport } from '../../agent/transport/registry.js';
import { createSimBinding, createSimLink, SimRegistry } from '../../firmware-sim/sim-binding.js';
import { encodeCbor, type CborValue } from '../../protocol/cbor.js';
import { encodeCommand } from '../../protocol/command.js';
import { decodeMessage, encodeMessage } from '../../protocol/envelope.js';
import { SyncwireError } from '../../protocol/errors.js';
import { generateIdentity, toHex, type Identity } from '../../protocol/keys.js';
import type { Message } from '../../protocol/messages.js';
import { encodeSerialFrame, SerialFrameDecoder } from '../../protocol/serial-frame.js';
import { encodeTcpFrame, TcpFrameDecoder } from '../../protocol/tcp-frame.js';
import { gc, round, seeded, sleep, until, type ChaosConfig, type Figures } from './common.js';

const FAST: Partial<EngineOptions> = {
  pollTimeoutMs: 300,
  pollTimeoutMsPerByte: 0,
  pollHint: { minMs: 20, maxMs: 100 },
  subscribedPollS: 0.3,
  backoff: { baseMs: 20, capMs: 500, floorMs: 5, jitter: 0.2 },
  // The flood keeps the event loop so busy that 300 ms polls time out; the dead-link watchdog
  // would then close the hostile links mid-run and frames sent to them would go uncounted.
  deadAfterTimeouts: 0,
};

type Rnd = () => number;
const int = (rnd: Rnd, n: number): number => Math.floor(rnd() * n);
const pick = <T>(rnd: Rnd, xs: readonly T[]): T => xs[int(rnd, xs.length)]!;
const bytes = (rnd: Rnd, n: number): Uint8Array => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = int(rnd, 256);
  return b;
};
const cat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

/** CBOR heads that lie about sizes or types. */
const NASTY_HEADS = [
  Uint8Array.of(0x9a, 0xff, 0xff, 0xff, 0xff), // array of 2^32-1
  Uint8Array.of(0x9b, 0, 0, 0, 1, 0, 0, 0, 0), // array of 2^32 (64-bit length)
  Uint8Array.of(0x5a, 0x7f, 0xff, 0xff, 0xff), // byte string of 2 GiB
  Uint8Array.of(0x7a, 0x00, 0x10, 0x00, 0x00), // text of 1 MiB
  Uint8Array.of(0x9f), // indefinite array
  Uint8Array.of(0xbf), // indefinite map
  Uint8Array.of(0xa1), // map
  Uint8Array.of(0xc0), // tag
  Uint8Array.of(0xfb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0), // NaN float
  Uint8Array.of(0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), // u64 max
  Uint8Array.of(0x18, 0x01), // non-canonical int
  Uint8Array.of(0xff), // break
  Uint8Array.of(0xf7), // undefined
];

/** A corpus of valid message bodies of every type. */
function corpus(id: Identity, cmds: Uint8Array[]): Uint8Array[] {
  const ids = (n: number): Uint8Array[] => Array.from({ length: n }, () => new Uint8Array(randomBytes(32)));
  const msgs: Message[] = [
    { type: 'Hello', version: 1, public_key: id.publicKey, max_frame: 65536, caps: 3, nonce: new Uint8Array(randomBytes(16)) },
    { type: 'Auth', signature: new Uint8Array(randomBytes(64)) },
    { type: 'Keys', keys: [id.publicKey, new Uint8Array(randomBytes(32))] },
    { type: 'PollRequest', session: 7, max_bytes: 65536, heads: ids(3), sample: ids(20) },
    { type: 'PollResponse', session: 7, more: false, total: 3, next_poll_ms: 1000, heads: ids(2), commands: cmds.slice(0, 3) },
    { type: 'Subscribe', remain_open: 120, max_bytes: 1 << 20, sample: ids(10), via: [new Uint8Array(8)] },
    { type: 'SubscribeAck', remain_open: 120, max_bytes: 1 << 20 },
    { type: 'Unsubscribe' },
    { type: 'Push', remaining: 1000, exhausted: false, commands: cmds.slice(0, 2) },
    { type: 'Error', code: 7, message: 'busy', retry_after_ms: 100 },
  ];
  return [...msgs.map(encodeMessage).map((b) => Uint8Array.from(b)), ...cmds.slice(0, 5)];
}

/** One hostile body: random, mutated valid, or a crafted nasty. */
function hostile(rnd: Rnd, seeds: Uint8Array[]): Uint8Array {
  const r = rnd();
  if (r < 0.1) return bytes(rnd, int(rnd, 300));
  if (r < 0.15) {
    // deep nesting
    const depth = 1 + int(rnd, 2000);
    return cat(new Uint8Array(depth).fill(0x81), Uint8Array.of(0x00));
  }
  if (r < 0.22) return cat(Uint8Array.of(0x80 + 1 + int(rnd, 6), int(rnd, 12)), pick(rnd, NASTY_HEADS), bytes(rnd, int(rnd, 40)));
  if (r < 0.3) {
    // wrong types per field
    const vals: CborValue[] = [int(rnd, 12)];
    const k = int(rnd, 8);
    for (let i = 0; i < k; i++) vals.push(pick(rnd, [true, null, 'x'.repeat(int(rnd, 300)), -1, 0xffffffff, bytes(rnd, int(rnd, 70)), [], [bytes(rnd, 32)], [[1, 2], 3]] as CborValue[]));
    return encodeCbor(vals).slice();
  }
  if (r < 0.33) {
    // huge arrays of valid-looking items
    const n = 100 + int(rnd, 3000);
    const items = Array.from({ length: n }, () => new Uint8Array(32));
    return encodeCbor([pick(rnd, [3, 4, 5, 8, 2]), 1, 65536, items, items] as CborValue[]).slice();
  }
  const base = pick(rnd, seeds).slice();
  let b: Uint8Array<ArrayBufferLike> = base;
  const ops = 1 + int(rnd, 3);
  for (let o = 0; o < ops; o++) {
    const m = int(rnd, 6);
    if (m === 0 || b.length === 0) {
      const flips = 1 + int(rnd, 8);
      for (let i = 0; i < flips && b.length > 0; i++) b[int(rnd, b.length)]! ^= 1 << int(rnd, 8);
    } else if (m === 1) b = b.subarray(0, int(rnd, b.length));
    else if (m === 2) b = cat(b, bytes(rnd, 1 + int(rnd, 20)));
    else if (m === 3) {
      const at = int(rnd, b.length);
      b = cat(b.subarray(0, at), pick(rnd, NASTY_HEADS), b.subarray(at));
    } else if (m === 4) b[int(rnd, b.length)] = pick(rnd, [0x00, 0xff, 0x1b, 0x5b, 0x9b, 0x9f, 0x40, 0x60]);
    else b = cat(b.subarray(0, int(rnd, b.length)), b.subarray(int(rnd, b.length)));
  }
  return b;
}

interface Tally {
  inputs: number;
  crashes: number;
  untyped: number;
  hangs: number;
  slowestMs: number;
  samples: string[];
}

function timed(t: Tally, f: () => void): void {
  const s = performance.now();
  try {
    f();
  } catch (err) {
    t.crashes++;
    if (t.samples.length < 5) t.samples.push(String(err));
  }
  const d = performance.now() - s;
  if (d > t.slowestMs) t.slowestMs = d;
  if (d > 1000) t.hangs++;
}

export async function runFuzz(cfg: ChaosConfig): Promise<Figures> {
  const scale = cfg.quick ? 0.1 : 1;
  const rnd = seeded(0xc0ffee);
  const id = generateIdentity();
  const goodCmds: Uint8Array[] = [];
  let prev: Uint8Array[] = [];
  for (let i = 0; i < 8; i++) {
    const c = encodeCommand({ parents: prev, author: id.author, seq: i + 1, payload: new Uint8Array(randomBytes(40)) }, id.sign);
    goodCmds.push(c.bytes);
    prev = [c.id];
  }
  const seeds = corpus(id, goodCmds);
  const t: Tally = { inputs: 0, crashes: 0, untyped: 0, hangs: 0, slowestMs: 0, samples: [] };
  const errKinds: Record<string, number> = {};

  // Event-loop watchdog for the whole scenario.
  const eld = monitorEventLoopDelay({ resolution: 10 });
  eld.enable();
  let lastBeat = performance.now();
  let loopStalls = 0;
  const beat = setInterval(() => {
    const now = performance.now();
    if (now - lastBeat > 1050) loopStalls++;
    lastBeat = now;
  }, 50);

  // Layer 1: frame decoders.
  const serialDec = new SerialFrameDecoder();
  let tcpDec = new TcpFrameDecoder();
  let frameErrors = 0;
  const nSerial = Math.round(300_000 * scale);
  for (let i = 0; i < nSerial; i++) {
    let wire: Uint8Array<ArrayBufferLike> = encodeSerialFrame(hostile(rnd, seeds).subarray(0, 65536)).slice();
    const r = rnd();
    if (r < 0.3) for (let k = 0; k < 1 + int(rnd, 4); k++) wire[int(rnd, wire.length)]! ^= 1 << int(rnd, 8);
    else if (r < 0.4) wire = wire.subarray(0, int(rnd, wire.length));
    else if (r < 0.5) wire = bytes(rnd, int(rnd, 600));
    else if (r < 0.52) wire = new Uint8Array(70000 + int(rnd, 10000)).fill(0x55); // no delimiter, oversized
    t.inputs++;
    if (i % 500 === 0) await new Promise((r) => setImmediate(r)); // let the watchdog run
    timed(t, () => {
      const res = serialDec.push(wire);
      frameErrors += res.errors.length;
      for (const e of res.errors) if (!(e instanceof SyncwireError)) t.untyped++;
    });
  }
  const nTcp = Math.round(200_000 * scale);
  for (let i = 0; i < nTcp; i++) {
    let wire: Uint8Array<ArrayBufferLike> = encodeTcpFrame(hostile(rnd, seeds).subarray(0, 65536));
    const r = rnd();
    if (r < 0.2) {
      wire = wire.slice();
      new DataView(wire.buffer).setUint32(0, 65537 + int(rnd, 0xfffeffff), false); // oversized length
    } else if (r < 0.35) wire = wire.subarray(0, int(rnd, wire.length));
    else if (r < 0.45) wire = bytes(rnd, int(rnd, 100));
    t.inputs++;
    if (i % 500 === 0) await new Promise((r) => setImmediate(r));
    timed(t, () => {
      const res = tcpDec.push(wire);
      frameErrors += res.errors.length;
      if (res.fatal) tcpDec = new TcpFrameDecoder(); // the link would close; a new one starts clean
    });
  }
  cfg.log(`fuzz: frame decoders ${nSerial + nTcp} inputs, ${frameErrors} typed frame errors`);

  // Layer 2: message decoder.
  const nMsg = Math.round(300_000 * scale);
  let decodedOk = 0;
  for (let i = 0; i < nMsg; i++) {
    const body = hostile(rnd, seeds);
    t.inputs++;
    if (i % 500 === 0) await new Promise((r) => setImmediate(r));
    const s = performance.now();
    try {
      decodeMessage(body);
      decodedOk++;
    } catch (err) {
      if (err instanceof SyncwireError) errKinds[err.reason] = (errKinds[err.reason] ?? 0) + 1;
      else {
        t.untyped++;
        if (t.samples.length < 5) t.samples.push(`untyped from decodeMessage(${Buffer.from(body.subarray(0, 40)).toString('hex')}): ${String(err)}`);
      }
    }
    const d = performance.now() - s;
    if (d > t.slowestMs) t.slowestMs = d;
    if (d > 1000) t.hangs++;
  }
  cfg.log(`fuzz: message decoder ${nMsg} inputs, ${decodedOk} decoded, errors ${JSON.stringify(errKinds)}`);

  // Layer 3: a live agent.
  const live = await liveAgent(cfg, rnd, seeds, Math.round(400_000 * scale));
  t.inputs += live.inputs;

  clearInterval(beat);
  eld.disable();
  const maxDelayMs = eld.max / 1e6;
  const hangs = t.hangs + loopStalls;
  const figures: Figures = {
    inputs: t.inputs,
    frame_decoder_inputs: nSerial + nTcp,
    message_decoder_inputs: nMsg,
    live_inputs: live.inputs,
    live_serial_chunks: live.serialChunks,
    crashes: t.crashes + live.crashes,
    untyped_errors: t.untyped,
    hangs,
    max_event_loop_delay_ms: round(maxDelayMs),
    slowest_single_input_ms: round(t.slowestMs),
    decoder_error_reasons: errKinds,
    live_bad_frames_counted: live.badFramesCounted,
    live_undecodable_sent: live.undecodableSent,
    live_rejected_commands: live.rejected,
    live_orphaned_commands: live.orphaned,
    live_errors_answered: live.errorsAnswered,
    serial_frame_errors_counted: live.serialFrameErrors,
    heap_before_mb: live.heapBefore,
    heap_after_mb: live.heapAfter,
    heap_growth_mb: round(live.heapAfter - live.heapBefore),
    good_peer_commits: live.goodCommits,
    good_peer_converged: live.converged,
    samples: t.samples.join(' | ').slice(0, 500),
  };
  cfg.log(`fuzz: ${JSON.stringify(figures)}`);
  return figures;
}

interface LiveResult {
  inputs: number;
  serialChunks: number;
  crashes: number;
  badFramesCounted: number;
  undecodableSent: number;
  rejected: number;
  orphaned: number;
  errorsAnswered: number;
  serialFrameErrors: number;
  heapBefore: number;
  heapAfter: number;
  goodCommits: number;
  converged: boolean;
}

async function liveAgent(cfg: ChaosConfig, rnd: Rnd, seeds: Uint8Array[], n: number): Promise<LiveResult> {
  let crashes = 0;
  const onCrash = (err: unknown): void => {
    crashes++;
    cfg.log(`fuzz: uncaught ${String(err)}`);
  };
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  const targetId = generateIdentity();
  const goodId = generateIdentity();
  const hostileIds = Array.from({ length: 4 }, () => generateIdentity());
  const stranger = generateIdentity(); // not trusted: its commands are UnknownAuthor
  const trusted = [targetId, goodId, ...hostileIds].map((i) => i.publicKey);
  const target = new Engine({ identity: targetId, store: new MemoryStore(), trust: { mode: 'list', keys: trusted }, ...FAST });
  const good = new Engine({ identity: goodId, store: new MemoryStore(), trust: { mode: 'list', keys: trusted }, ...FAST });
  const sessions: PeerSession[] = [];
  let undecodable = 0;
  const [gt, gp] = createMemoryLinkPair();
  // Replay material: everything the good peer sends the target.
  const captured: Uint8Array[] = [];
  gt.on('frame', (b) => {
    if (captured.length < 2000) captured.push(b);
    else captured[int(rnd, captured.length)] = b;
  });
  target.attach(gt);
  good.attach(gp);
  let errorsAnswered = 0;

  // Authenticated hostile peers: real engines do the handshake; we then write to their link directly.
  const hostiles: { link: Link; engine: Engine }[] = [];
  /** A fresh link between the target and a hostile engine (they handshake by themselves). */
  const connectHostile = (engine: Engine): Link => {
    const [ht, hp] = createMemoryLinkPair();
    sessions.push(target.attach(ht));
    // Count undecodable frames where they arrive: a hostile Hello with a foreign key makes the
    // agent close that link, and frames still in flight to it are then never delivered.
    ht.on('frame', (b) => {
      try {
        decodeMessage(b);
      } catch {
        undecodable++;
      }
    });
    engine.attach(hp);
    hp.on('frame', (b) => {
      if (b[1] === 0x09) errorsAnswered++;
    });
    return hp;
  };
  for (const hid of hostileIds) {
    const engine = new Engine({ identity: hid, store: new MemoryStore(), trust: { mode: 'list', keys: trusted }, ...FAST, subscribe: false });
    hostiles.push({ link: connectHostile(engine), engine });
  }
  await until(() => target.sessions.size === 1 + hostileIds.length, 5000);

  // Commands crafted to be hostile yet well-formed.
  const crafted: Uint8Array[] = [];
  for (let i = 0; i < 300; i++) {
    const who = pick(rnd, [...hostileIds, stranger]);
    const parents = Array.from({ length: int(rnd, 4) }, () => new Uint8Array(randomBytes(32))); // unknown parents
    const c = encodeCommand({ parents, author: who.author, seq: 1000 + i, payload: new Uint8Array(randomBytes(int(rnd, 200))) }, who.sign);
    const b = c.bytes.slice();
    if (rnd() < 0.4) b[b.length - 1 - int(rnd, 64)]! ^= 1 << int(rnd, 8); // bad signature
    crafted.push(b);
  }
  const semantic = (): Uint8Array => {
    const r = rnd();
    const cmds = Array.from({ length: 1 + int(rnd, 6) }, () => pick(rnd, crafted));
    if (r < 0.4) return encodeMessage({ type: 'Push', remaining: int(rnd, 1 << 20), exhausted: rnd() < 0.1, commands: cmds });
    if (r < 0.5) return pick(rnd, cmds); // bare push
    if (r < 0.7 && captured.length > 0) return pick(rnd, captured); // replay / reorder
    if (r < 0.8) return encodeMessage({ type: 'PollRequest', session: int(rnd, 1e9), max_bytes: pick(rnd, [0, 1, 1536, 65536, 0xffffffff]), heads: [new Uint8Array(randomBytes(32))], sample: [] });
    if (r < 0.9) return encodeMessage({ type: 'Subscribe', remain_open: pick(rnd, [0, 1, 0xffffffff]), max_bytes: pick(rnd, [0, 10, 0xffffffff]), sample: [], via: [] });
    if (r < 0.95) return encodeMessage({ type: 'Unsubscribe' });
    return encodeMessage({ type: 'Keys', keys: Array.from({ length: 64 }, () => new Uint8Array(randomBytes(32))) });
  };

  // Serial: the target dials a simulated UART; the far end writes garbage and framed garbage.
  const registry = new SimRegistry();
  const BAUD = 1_000_000;
  const tag = randomBytes(3).toString('hex');
  const sim = createSimLink({ pathA: `/dev/fuzz-${tag}-a`, pathB: `/dev/fuzz-${tag}-b`, registry, baudRate: BAUD });
  const binding = createSimBinding(registry);
  const serialT = await openTransport(`serial:${sim.a.path}?baud=${BAUD}`, { selfId: targetId.peerId, binding });
  const serialSessions: PeerSession[] = [];
  let serialFrameErrors = 0;
  serialT.on('link', (l) => {
    l.on('frame-error', () => serialFrameErrors++);
    serialSessions.push(target.attach(l));
  });
  const far = new SerialPortStream({ binding, path: sim.b.path, baudRate: BAUD });
  await new Promise<void>((res) => (far.isOpen ? res() : far.once('open', () => res())));
  far.on('data', () => undefined); // drain what the target says
  let serialChunks = 0;

  gc();
  const heapBefore = round(process.memoryUsage().heapUsed / 1048576);
  let goodCommits = 0;
  let stopGood = false;
  const goodLoop = (async () => {
    while (!stopGood) {
      await good.commit(new Uint8Array(randomBytes(64)));
      goodCommits++;
      await sleep(10);
    }
  })();

  let inputs = 0;
  let rawLinks = 0;
  let raw: { t: Link; r: Link } | null = null;
  const BATCH = 200;
  while (inputs < n) {
    for (let i = 0; i < BATCH; i++) {
      const r = rnd();
      if (r < 0.15) {
        // unauthenticated raw link: garbage and pre-auth messages
        if (raw === null || !raw.r.open || rnd() < 0.01) {
          if (raw !== null) void raw.r.close();
          const [lt, lr] = createMemoryLinkPair();
          target.attach(lt);
          raw = { t: lt, r: lr };
          rawLinks++;
        }
        raw.r.send(rnd() < 0.5 ? hostile(rnd, seeds) : semantic());
      } else {
        const h = pick(rnd, hostiles);
        if (!h.link.open) h.link = connectHostile(h.engine); // the agent closed it: come back
        const body = rnd() < 0.6 ? hostile(rnd, seeds) : semantic();
        h.link.send(body);
      }
      inputs++;
    }
    if (far.isOpen && far.writableLength < 16384) {
      const chunk = rnd() < 0.5 ? bytes(rnd, 1 + int(rnd, 512)) : encodeSerialFrame(rnd() < 0.5 ? hostile(rnd, seeds).subarray(0, 4000) : semantic().subarray(0, 4000));
      far.write(Buffer.from(chunk));
      serialChunks++;
      inputs++;
    }
    await new Promise((r) => setImmediate(r));
  }
  cfg.log(`fuzz: live agent ${inputs} inputs (${rawLinks} raw links, ${serialChunks} serial chunks); waiting for the good peer`);
  stopGood = true;
  await goodLoop;
  await sleep(200);
  const converged = await until(() => {
    if (target.store.size < good.store.size) return false;
    for (let h = 0; h < good.store.size; h++) if (target.store.indexOf(good.store.idOf(h)) < 0) return false;
    // and the good peer holds everything the target holds
    for (let h = 0; h < target.store.size; h++) if (good.store.indexOf(target.store.idOf(h)) < 0) return false;
    return true;
  }, 20000, 100);
  await target.ingest.idle();
  gc();
  const heapAfter = round(process.memoryUsage().heapUsed / 1048576);
  const badFramesCounted = sessions.reduce((a, s) => a + s.stats.badFrames, 0);
  const res: LiveResult = {
    inputs,
    serialChunks,
    crashes,
    badFramesCounted,
    undecodableSent: undecodable,
    rejected: target.ingest.stats.rejected,
    orphaned: target.ingest.stats.orphaned,
    errorsAnswered,
    serialFrameErrors,
    heapBefore,
    heapAfter,
    goodCommits,
    converged,
  };
  if (!converged) cfg.log(`fuzz: good peer NOT converged: target ${target.store.size}, good ${good.store.size}, sessions ${[...target.sessions.keys()].join(',')}`);
  void toHex;
  await serialT.close();
  if (far.isOpen) await new Promise<void>((r) => far.close(() => r()));
  sim.dispose();
  await Promise.all([target.close(), good.close(), ...hostiles.map((h) => h.engine.close())]);
  process.off('uncaughtException', onCrash);
  process.off('unhandledRejection', onCrash);
  return res;
}

/**
 * Fuzz: random and mutated inputs into the frame decoders, the message decoder, the sealed-frame
 * opener and a live agent's links (unsealed and sealed memory links and a real serial transport
 * on a simulated UART), while a good peer keeps syncing through the same agent over a sealed link.
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
import { createSimBinding, createSimLink, SimRegistry } from '../../firmware-sim/uart/index.js';
import { encodeCommand } from '../../protocol/command.js';
import { decodeMessage, encodeMessage } from '../../protocol/envelope.js';
import { SyncwireError } from '../../protocol/errors.js';
import { generateIdentity, toHex, type Identity } from '../../protocol/keys.js';
import { isSealed, Opener, SEAL_MARKER, SEAL_OVERHEAD, SealError, sealFrame } from '../../protocol/seal.js';
import type { Message } from '../../protocol/messages.js';
import { encodeSerialFrame, SerialFrameDecoder } from '../../protocol/serial-frame.js';
import { encodeTcpFrame, TcpFrameDecoder } from '../../protocol/tcp-frame.js';
import { concat } from '../../testkit/bytes.js';
import { hostile } from '../../testkit/fuzz-inputs.js';
import { bytes, int, pick, xorshift32, type Random } from '../../testkit/prng.js';
import { gc, round, sleep, until, type ChaosConfig, type Figures } from './common.js';

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
  const rnd = xorshift32(0xc0ffee);
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

  // Layer 2b: the sealed-frame opener.
  const nSealed = Math.round(200_000 * scale);
  const sealed = await sealedLayer(rnd, seeds, nSealed, t);
  t.inputs += nSealed;
  cfg.log(`fuzz: sealed opener ${nSealed} inputs, ${sealed.opened} genuine opened, ${sealed.forgeriesOpened} forgeries opened, failures ${JSON.stringify(sealed.failures)}`);

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
    sealed_opener_inputs: nSealed,
    sealed_genuine_opened: sealed.opened,
    sealed_forgeries_opened: sealed.forgeriesOpened,
    sealed_open_failures: sealed.failures,
    live_inputs: live.inputs,
    live_serial_chunks: live.serialChunks,
    crashes: t.crashes + live.crashes,
    untyped_errors: t.untyped,
    hangs,
    max_event_loop_delay_ms: round(maxDelayMs),
    slowest_single_input_ms: round(t.slowestMs),
    decoder_error_reasons: errKinds,
    live_bad_frames_counted: live.badFramesCounted,
    live_intake_dropped: live.intakeDropped,
    live_undecodable_sent: live.undecodableSent,
    live_rejected_commands: live.rejected,
    live_orphaned_commands: live.orphaned,
    live_errors_answered: live.errorsAnswered,
    live_sealed_link: live.sealedLink,
    live_sealed_link_survived: live.sealedSurvived,
    live_sealed_injected: live.sealedInjected,
    live_sealed_counted: live.sealedCounted,
    live_unsealed_injected_on_sealed: live.unsealedInjected,
    live_unsealed_dropped_on_sealed: live.unsealedCounted,
    live_sealed_intake_dropped: live.sealedIntakeDropped,
    live_handshake_injected_on_sealed: live.handshakeInjected,
    live_sealed_rehandshakes: live.sealedRehandshakes,
    live_sealed_bad_frames: live.sealedBadFrames,
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

interface SealedResult {
  /** Genuine frames the Opener returned a plaintext for. */
  opened: number;
  /** Returned a plaintext for a frame never sealed under its key, a wrong plaintext, or a seq twice. */
  forgeriesOpened: number;
  /** SealError failures thrown, by kind. */
  failures: Record<string, number>;
}

/**
 * Sealed-frame bodies into `openFrame` (through an `Opener` that lives the whole run): mutated
 * genuine frames, random bodies behind the 0x53 marker, altered headers, other keys, replays.
 * Only a genuine frame may open, each sequence number once; anything else must throw SealError
 * (an untyped error is counted in `t.untyped`, a slow input in `t.hangs`).
 */
async function sealedLayer(rnd: Random, seeds: Uint8Array[], n: number, t: Tally): Promise<SealedResult> {
  const key = bytes(rnd, 32);
  const otherKey = bytes(rnd, 32);
  const genuine = new Map<string, string>(); // body hex → plaintext hex
  const pool: Uint8Array[] = [];
  const recent: Uint8Array[] = []; // the last few sealed: still fresh for the Opener
  let nextSeq = 0;
  const seal = (seq: number): void => {
    const pt = rnd() < 0.1 ? new Uint8Array(0) : pick(rnd, seeds);
    const body = sealFrame(key, seq, pt);
    genuine.set(toHex(body), toHex(pt));
    recent.push(body);
    if (recent.length > 8) recent.shift();
    if (pool.length < 1000) pool.push(body);
    else pool[int(rnd, pool.length)] = body;
  };
  seal(nextSeq++);
  const opener = new Opener(key);
  const seen = new Set<number>();
  const res: SealedResult = { opened: 0, forgeriesOpened: 0, failures: {} };
  for (let i = 0; i < n; i++) {
    if (i % 4 === 0) {
      if (i === Math.floor((n * 3) / 4)) nextSeq = 0xffffffff - 4 * n; // the top of the u32 range too
      if (rnd() < 0.05) nextSeq += int(rnd, 200);
      nextSeq = Math.min(nextSeq, 0xffffffff);
      seal(rnd() < 0.9 || nextSeq < 70 ? nextSeq++ : nextSeq - 1 - int(rnd, 70));
    }
    const base = pick(rnd, pool);
    const r = rnd();
    let input: Uint8Array;
    if (r < 0.35) input = hostile(rnd, [base]); // bit flips, truncation, splices of a genuine frame
    else if (r < 0.45) input = concat(Uint8Array.of(SEAL_MARKER), bytes(rnd, int(rnd, rnd() < 0.01 ? 70_000 : 400)));
    else if (r < 0.55) {
      input = base.slice();
      new DataView(input.buffer).setUint32(1, rnd() < 0.5 ? Math.floor(rnd() * 0x100000000) : nextSeq); // header seq altered
    } else if (r < 0.65) input = sealFrame(otherKey, Math.min(0xffffffff, int(rnd, nextSeq + 10)), pick(rnd, seeds));
    else if (r < 0.72) input = concat(base.subarray(0, SEAL_OVERHEAD - 16), pick(rnd, pool).subarray(SEAL_OVERHEAD - 16)); // another frame's header
    else if (r < 0.75) input = bytes(rnd, int(rnd, SEAL_OVERHEAD + 2)).map((b, j) => (j === 0 ? SEAL_MARKER : b)); // too short
    else input = rnd() < 0.8 ? pick(rnd, recent) : base; // genuine: fresh, or a replay / too old
    if (i % 500 === 0) await new Promise((r) => setImmediate(r));
    const want = genuine.get(toHex(input));
    const s0 = performance.now();
    try {
      const pt = opener.open(input);
      if (pt !== null) {
        const seq = new DataView(input.buffer, input.byteOffset).getUint32(1);
        if (want === undefined || toHex(pt) !== want || seen.has(seq)) {
          res.forgeriesOpened++;
          if (t.samples.length < 5) t.samples.push(`Opener opened a non-genuine frame ${toHex(input.subarray(0, 40))}`);
        } else res.opened++;
        seen.add(seq);
      }
    } catch (err) {
      if (err instanceof SealError) res.failures[err.failure] = (res.failures[err.failure] ?? 0) + 1;
      else {
        t.untyped++;
        if (t.samples.length < 5) t.samples.push(`untyped from Opener.open(${toHex(input.subarray(0, 40))}): ${String(err)}`);
      }
    }
    const d = performance.now() - s0;
    if (d > t.slowestMs) t.slowestMs = d;
    if (d > 1000) t.hangs++;
  }
  return res;
}

interface LiveResult {
  inputs: number;
  serialChunks: number;
  crashes: number;
  badFramesCounted: number;
  /** Frames the hostile links' sessions dropped unread (still waiting when their link closed). */
  intakeDropped: number;
  undecodableSent: number;
  rejected: number;
  orphaned: number;
  errorsAnswered: number;
  serialFrameErrors: number;
  heapBefore: number;
  heapAfter: number;
  goodCommits: number;
  converged: boolean;
  /** Whether the hostile sealed link really sealed (its frames carried the 0x53 marker once up). */
  sealedLink: boolean;
  /** It was still open and authenticated at the end: injected frames never closed it. */
  sealedSurvived: boolean;
  /** 0x53 bodies written straight onto that link (not by its sealer). */
  sealedInjected: number;
  /** The target's sealFailures + replays on that link (null: the session has no such counters). */
  sealedCounted: number | null;
  /** Unsealed bodies (no Hello or Auth) written onto that link once it was up. */
  unsealedInjected: number;
  /** The target's unsealedDropped on that link (null: no such counter). */
  unsealedCounted: number | null;
  /** Replayed or forged Hello/Auth bodies written onto that link (the good link's, mutated corpus ones). */
  handshakeInjected: number;
  /** Re-handshakes the target completed on that link meanwhile (a differing Hello triggers one, ≤ 1/s). */
  sealedRehandshakes: number | null;
  /** Frames the target's flood guard dropped unread on that link (null: no such counter). */
  sealedIntakeDropped: number | null;
  /** The target's badFrames on that link (injected frames must never reach the decoder). */
  sealedBadFrames: number;
}

async function liveAgent(cfg: ChaosConfig, rnd: Random, seeds: Uint8Array[], n: number): Promise<LiveResult> {
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
  const sealedId = generateIdentity(); // the hostile peer on a sealed link
  const trusted = [targetId, goodId, sealedId, ...hostileIds].map((i) => i.publicKey);
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
  // Their links are unsealed (policy off at both ends) so that what we write reaches the message
  // decoder, exactly as before sealing; the sealed hostile peer below covers sealed links.
  const hostiles: { link: Link; engine: Engine; session: PeerSession }[] = [];
  /** A fresh link between the target and a hostile engine (they handshake by themselves). */
  const connectHostile = (engine: Engine): { link: Link; session: PeerSession } => {
    const [ht, hp] = createMemoryLinkPair({ seal: 'off' });
    const session = target.attach(ht);
    sessions.push(session);
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
    return { link: hp, session };
  };
  for (const hid of hostileIds) {
    const engine = new Engine({ identity: hid, store: new MemoryStore(), trust: { mode: 'list', keys: trusted }, ...FAST, subscribe: false });
    hostiles.push({ ...connectHostile(engine), engine });
  }

  // The sealed hostile peer: a real engine on a link with the default policy (require), whose
  // link we also write to directly: 0x53 bodies (forged, altered, replayed, another link's) and
  // unsealed messages. The target must drop and count each one and keep the link up.
  const sealedEngine = new Engine({ identity: sealedId, store: new MemoryStore(), trust: { mode: 'list', keys: trusted }, ...FAST, subscribe: false });
  const [sealedT, sealedP] = createMemoryLinkPair();
  const sealedSession = target.attach(sealedT);
  const ownSealed: Uint8Array[] = []; // what the sealed hostile's own sealer sent: replay material
  let sealedLink = false;
  // Record what the engine itself sends (`frame-out`); our injections go through `inject`, unrecorded.
  const inject = (b: Uint8Array): boolean => sealedP.send(b);
  sealedEngine.on('frame-out', (_peer, _message, b) => {
    if (isSealed(b)) {
      sealedLink = true;
      if (ownSealed.length < 500) ownSealed.push(Uint8Array.from(b));
      else ownSealed[int(rnd, ownSealed.length)] = Uint8Array.from(b);
    }
  });
  sealedEngine.attach(sealedP);
  await until(() => target.snapshot().peers.filter((p) => p.authenticated).length === 2 + hostileIds.length && sealedSession.authenticated, 5000);
  await until(() => sealedLink, 2000);
  // The counters are read loosely: the figures stay null on a session that has none.
  const sealedStat = (k: string): number | null => {
    const v = (sealedSession.stats as unknown as Record<string, unknown>)[k];
    return typeof v === 'number' ? v : null;
  };
  const sealedBase = {
    failures: sealedStat('sealFailures'), replays: sealedStat('replays'), unsealed: sealedStat('unsealedDropped'), intake: sealedStat('intakeDropped'),
    rehandshakes: sealedStat('rehandshakes'), bad: sealedSession.stats.badFrames,
  };
  let sealedInjected = 0;
  let unsealedInjected = 0;
  let handshakeInjected = 0;

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

  /** One body for the sealed link, and what the target must make of it (§7.4, §7.5). */
  const sealedHostile = (): { body: Uint8Array; kind: 'sealed' | 'unsealed' | 'handshake' } => {
    const r = rnd();
    const own = ownSealed.length > 0 ? pick(rnd, ownSealed) : sealFrame(bytes(rnd, 32), int(rnd, 100), pick(rnd, seeds));
    let body: Uint8Array;
    if (r < 0.25) body = concat(Uint8Array.of(SEAL_MARKER), bytes(rnd, int(rnd, 300)));
    else if (r < 0.45) body = hostile(rnd, [own]); // altered: bit flips, truncation, splices
    else if (r < 0.6) body = own; // replayed
    else if (r < 0.7 && captured.length > 0) body = pick(rnd, captured); // the good link's frames: another key, or its Hello/Auth
    else if (r < 0.75) body = concat(Uint8Array.of(SEAL_MARKER), bytes(rnd, int(rnd, SEAL_OVERHEAD - 1))); // too short
    else body = rnd() < 0.5 ? hostile(rnd, seeds) : semantic();
    // sealed: a seal failure or a replay; Hello/Auth: the re-handshake rules; anything else: unsealedDropped.
    if (isSealed(body)) return { body, kind: 'sealed' };
    try {
      const m = decodeMessage(body);
      if (m.type === 'Hello' || m.type === 'Auth') return { body, kind: 'handshake' };
    } catch {
      /* undecodable: dropped as unsealed */
    }
    return { body, kind: 'unsealed' };
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
          const [lt, lr] = createMemoryLinkPair({ seal: 'off' });
          target.attach(lt);
          raw = { t: lt, r: lr };
          rawLinks++;
        }
        raw.r.send(rnd() < 0.5 ? hostile(rnd, seeds) : semantic());
      } else if (r < 0.25) {
        if (!sealedP.open) continue;
        const { body, kind } = sealedHostile();
        if (kind === 'sealed') sealedInjected++;
        else if (kind === 'unsealed') unsealedInjected++;
        else handshakeInjected++;
        inject(body);
      } else {
        const h = pick(rnd, hostiles);
        if (!h.link.open) Object.assign(h, connectHostile(h.engine)); // the agent closed it: come back
        let body = rnd() < 0.6 ? hostile(rnd, seeds) : semantic();
        // Before the link is up a 0x53 body is dropped uncounted (§7); keep the bad-frame count exact.
        while (isSealed(body) && !h.session.authenticated) body = body.subarray(1);
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
  await target.idle();
  gc();
  const heapAfter = round(process.memoryUsage().heapUsed / 1048576);
  const badFramesCounted = sessions.reduce((a, s) => a + s.stats.badFrames, 0);
  const intakeDropped = sessions.reduce((a, s) => a + s.stats.intakeDropped, 0);
  const delta = (now: number | null, base: number | null): number | null => (now === null || base === null ? null : now - base);
  const sealedFailures = delta(sealedStat('sealFailures'), sealedBase.failures);
  const sealedReplays = delta(sealedStat('replays'), sealedBase.replays);
  const res: LiveResult = {
    inputs,
    serialChunks,
    crashes,
    badFramesCounted,
    intakeDropped,
    undecodableSent: undecodable,
    rejected: target.snapshot().ingest.rejected,
    orphaned: target.snapshot().ingest.orphaned,
    errorsAnswered,
    serialFrameErrors,
    heapBefore,
    heapAfter,
    goodCommits,
    converged,
    sealedLink,
    sealedSurvived: sealedP.open && sealedT.open && sealedSession.authenticated,
    sealedInjected,
    sealedCounted: sealedFailures === null || sealedReplays === null ? null : sealedFailures + sealedReplays,
    unsealedInjected,
    unsealedCounted: delta(sealedStat('unsealedDropped'), sealedBase.unsealed),
    sealedIntakeDropped: delta(sealedStat('intakeDropped'), sealedBase.intake),
    handshakeInjected,
    sealedRehandshakes: delta(sealedStat('rehandshakes'), sealedBase.rehandshakes),
    sealedBadFrames: sealedSession.stats.badFrames - sealedBase.bad,
  };
  if (!converged) cfg.log(`fuzz: good peer NOT converged: target ${target.store.size}, good ${good.store.size}, sessions ${target.snapshot().peers.filter((p) => p.authenticated).map((p) => p.id).join(',')}`);
  void toHex;
  await serialT.close();
  if (far.isOpen) await new Promise<void>((r) => far.close(() => r()));
  sim.dispose();
  await Promise.all([target.close(), good.close(), sealedEngine.close(), ...hostiles.map((h) => h.engine.close())]);
  process.off('uncaughtException', onCrash);
  process.off('unhandledRejection', onCrash);
  return res;
}

/**
 * Fuzz layer 3 on protocol 2 (bench/chaos-v2-fuzz.ts): a target EngineV2 (a gateway holding the
 * fleet scope `fleet/fuzz`) fed hostile frames by four authenticated peers on unsealed links
 * (testkit/fuzz-inputs-v2.ts's hostile messages under the right and wrong scope numbers, mutated
 * corpus bodies, replays), by raw links that never handshake, by a peer on a sealed link (forged,
 * altered and replayed 0x53 bodies, unsealed messages, Hellos) and by the far end of a simulated
 * UART, while a good peer keeps committing to the fleet scope. The hostile peers also push compact
 * batches of the fleet scope under its right number (bench/chaos-v2-fuzz-live-batch.ts: fresh
 * chains of a third writer, signed or elided, replays, mutations). The good peer must converge, the
 * sealed link must survive, every injected frame must be counted, and the target must store no
 * command without its signature or with a bad one.
 */
import { randomBytes } from 'node:crypto';
import { SerialPortStream } from '@serialport/stream';
import type { Link } from '../agent/link.js';
import { createMemoryLinkPair } from '../agent/memory-link.js';
import { EngineV2, type EngineV2Options } from '../agent/sync/engine-v2.js';
import type { SessionV2 } from '../agent/sync/session-v2.js';
import { openTransport } from '../agent/transport/registry.js';
import { createSimBinding, createSimLink, SimRegistry } from '../firmware-sim/uart/index.js';
import { isBarePushV2 } from '../protocol/bare-push-v2.js';
import { Role } from '../protocol/constants-v2.js';
import { decodeMessageV2, encodeMessageV2 } from '../protocol/envelope-v2.js';
import { fromHex, generateIdentity, toHex, type Identity } from '../protocol/keys.js';
import { isSealed, SEAL_MARKER, SEAL_OVERHEAD, sealFrame } from '../protocol/seal.js';
import { encodeSerialFrame } from '../protocol/serial-frame.js';
import { concat } from '../testkit/bytes.js';
import { hostile } from '../testkit/fuzz-inputs.js';
import { hostileBodyV2, type V2FuzzContext } from '../testkit/fuzz-inputs-v2.js';
import { bytes, int, pick, Prng, type Random } from '../testkit/prng.js';
import { gc, round, sleep, until, type ChaosConfig, type Figures } from './chaos/common.js';
import { auditSignaturesYielding, keysByAuthor } from './chaos-v2-batch.js';
import { LiveBatchSource } from './chaos-v2-fuzz-live-batch.js';

const FLEET = 'fleet/fuzz';
const FAST: NonNullable<EngineV2Options['tuning']> = {
  pollHint: { minMs: 20, maxMs: 200 },
  backoff: { baseMs: 20, capMs: 500, floorMs: 5, jitter: 0.2 },
  pollTimeoutMs: 1000,
  pollTimeoutMsPerByte: 0,
  // Hostile links time out polls all the time; closing them would leave frames sent to them uncounted.
  deadAfterTimeouts: 0,
};

/** What the live layer measured. */
export interface LiveV2Result {
  inputs: number;
  crashes: number;
  figures: Figures;
}

/** Whether `b` is neither a v2 message nor a bare push (the target counts it as a bad frame). */
function undecodable(b: Uint8Array): boolean {
  if (b.length === 0 || isSealed(b)) return false;
  try {
    decodeMessageV2(b);
    return false;
  } catch {
    return !isBarePushV2(b);
  }
}

function kindOf(b: Uint8Array): string | null {
  try {
    return decodeMessageV2(b).type;
  } catch {
    return null;
  }
}

export async function liveAgentV2(cfg: ChaosConfig, rnd: Random, seeds: Uint8Array[], n: number): Promise<LiveV2Result> {
  let crashes = 0;
  const onCrash = (err: unknown): void => {
    crashes++;
    cfg.log(`fuzz-v2: uncaught ${String(err)}`);
  };
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  const r2 = new Prng(rnd);
  const targetId = generateIdentity();
  const goodId = generateIdentity();
  const hostileIds = Array.from({ length: 4 }, () => generateIdentity());
  const sealedId = generateIdentity();
  // A writer of the fleet scope without an engine: its commands reach the target only in batches the hostile peers relay.
  const relayedId = generateIdentity();
  const trusted = [targetId, goodId, sealedId, ...hostileIds].map((i) => i.publicKey);
  const open = (identity: Identity, extra: NonNullable<EngineV2Options['tuning']> = {}, gateway = false): Promise<EngineV2> =>
    EngineV2.open({ identity, trust: { mode: 'list', keys: trusted }, tuning: { ...FAST, ...extra }, scopes: gateway ? { max: Infinity } : { join: [FLEET] } });
  const target = await open(targetId, {}, true);
  const scope = await target.createScope({
    name: FLEET,
    members: [{ publicKey: targetId.publicKey, roles: Role.Read | Role.Write | Role.Admin }, { publicKey: goodId.publicKey, roles: Role.Read | Role.Write }, { publicKey: relayedId.publicKey, roles: Role.Read | Role.Write }],
    openRead: true,
  });
  const batchSource = new LiveBatchSource(target.scope(FLEET)!, relayedId, r2);
  let batchPushes = 0;
  const good = await open(goodId);
  const sessions: SessionV2[] = [];
  let undecodableSent = 0;
  let errorsAnswered = 0;
  const [gt, gp] = createMemoryLinkPair();
  const captured: Uint8Array[] = []; // replay material: everything the good peer sends the target
  gt.on('frame', (b) => {
    if (captured.length < 2000) captured.push(b);
    else captured[int(rnd, captured.length)] = b;
  });
  target.attach(gt);
  good.attach(gp);

  // Authenticated hostile peers: real engines handshake; we then write to their link directly,
  // unsealed (policy off) so that what we write reaches the message decoder.
  const hostiles: { link: Link; engine: EngineV2; session: SessionV2; own: SessionV2 }[] = [];
  const connectHostile = (engine: EngineV2): { link: Link; session: SessionV2; own: SessionV2 } => {
    const [ht, hp] = createMemoryLinkPair({ seal: 'off' });
    const session = target.attach(ht);
    sessions.push(session);
    // Counted where they arrive: a hostile Hello makes the target close that link, and frames
    // still in flight to it are then never delivered.
    ht.on('frame', (b) => void (undecodable(b) && undecodableSent++));
    const own = engine.attach(hp);
    hp.on('frame', (b) => void (kindOf(b) === 'Error' && errorsAnswered++));
    return { link: hp, session, own };
  };
  for (const hid of hostileIds) {
    const engine = await open(hid, { subscribe: false });
    hostiles.push({ ...connectHostile(engine), engine });
  }

  // The sealed hostile peer: a real engine on a link with the default policy (require).
  const sealedEngine = await open(sealedId, { subscribe: false });
  const [sealedT, sealedP] = createMemoryLinkPair();
  const sealedSession = target.attach(sealedT);
  const ownSealed: Uint8Array[] = [];
  let sealedLink = false;
  sealedEngine.on('frame-out', (_peer, _message, b) => {
    if (!isSealed(b)) return;
    sealedLink = true;
    if (ownSealed.length < 500) ownSealed.push(Uint8Array.from(b));
    else ownSealed[int(rnd, ownSealed.length)] = Uint8Array.from(b);
  });
  sealedEngine.attach(sealedP);
  await until(() => target.sessions().filter((s) => s.authenticated).length === 2 + hostileIds.length && sealedSession.authenticated, 10_000);
  await until(() => sealedLink && hostiles.every((h) => h.own.theirNumber(scope.id) !== undefined), 10_000);
  const st = sealedSession.stats;
  const base = { failures: st.sealFailures, replays: st.replays, unsealed: st.unsealedDropped, intake: st.intakeDropped, rehandshakes: st.rehandshakes, bad: st.badFrames };
  let sealedInjected = 0;
  let unsealedInjected = 0;
  let handshakeInjected = 0;

  /** The fuzz context of hostile `h`: the target's number for the fleet scope on its link. */
  const ctxOf = (h: (typeof hostiles)[number], me: Identity): V2FuzzContext => ({ number: h.own.theirNumber(scope.id) ?? 0, scopeId: scope.id, name: FLEET, commands: seeds.filter((s) => s[0] === 0x86), me, batches: batchSource.pool });
  const semantic = (h: (typeof hostiles)[number], me: Identity): Uint8Array => {
    if (rnd() < 0.2 && captured.length > 0) return pick(rnd, captured);
    try {
      return hostileBodyV2(r2, ctxOf(h, me));
    } catch {
      return hostile(rnd, seeds); // a generated message the encoder's schema refuses (an item too large): plain garbage instead
    }
  };

  /** A `Push` of a compact batch of the fleet scope under the target's number (a mutation cut to nothing: plain garbage). */
  const batchPush = (h: (typeof hostiles)[number]): Uint8Array => {
    const batch = batchSource.next();
    if (batch.length === 0) return hostile(rnd, seeds);
    batchPushes++;
    return encodeMessageV2({ type: 'Push', scope: ctxOf(h, hostileIds[0]!).number, remaining: 1 << 20, exhausted: false, commands: [], batch });
  };

  /** One body for the sealed link, and what the target must make of it. */
  const sealedHostile = (): { body: Uint8Array; kind: 'sealed' | 'unsealed' | 'handshake' } => {
    const r = rnd();
    const own = ownSealed.length > 0 ? pick(rnd, ownSealed) : sealFrame(bytes(rnd, 32), int(rnd, 100), pick(rnd, seeds));
    let body: Uint8Array;
    if (r < 0.25) body = concat(Uint8Array.of(SEAL_MARKER), bytes(rnd, int(rnd, 300)));
    else if (r < 0.45) body = hostile(rnd, [own]);
    else if (r < 0.6) body = own; // replayed
    else if (r < 0.7 && captured.length > 0) body = pick(rnd, captured); // the good link's frames
    else if (r < 0.75) body = concat(Uint8Array.of(SEAL_MARKER), bytes(rnd, int(rnd, SEAL_OVERHEAD - 1)));
    else body = hostile(rnd, seeds);
    if (isSealed(body)) return { body, kind: 'sealed' };
    const k = kindOf(body);
    return { body, kind: k === 'Hello' || k === 'Auth' ? 'handshake' : 'unsealed' };
  };

  // Serial: the target on a simulated UART; the far end writes garbage and framed garbage.
  const registry = new SimRegistry();
  const BAUD = 1_000_000;
  const tag = randomBytes(3).toString('hex');
  const sim = createSimLink({ pathA: `/dev/fuzz2-${tag}-a`, pathB: `/dev/fuzz2-${tag}-b`, registry, baudRate: BAUD });
  const binding = createSimBinding(registry);
  const serialT = await openTransport(`serial:${sim.a.path}?baud=${BAUD}`, { selfId: targetId.peerId, binding });
  let serialFrameErrors = 0;
  serialT.on('link', (l) => {
    l.on('frame-error', () => serialFrameErrors++);
    target.attach(l);
  });
  const far = new SerialPortStream({ binding, path: sim.b.path, baudRate: BAUD });
  await new Promise<void>((res) => (far.isOpen ? res() : far.once('open', () => res())));
  far.on('data', () => undefined);
  let serialChunks = 0;

  // Heap figures are after a forced GC when one is available (chaos-v2.ts exposes it; so does
  // `node --expose-gc`): without it they would count garbage V8 had not collected yet.
  const gcForced = typeof (globalThis as { gc?: unknown }).gc === 'function';
  const heapMb = (): number => {
    gc();
    return round(process.memoryUsage().heapUsed / 1048576);
  };
  const heapBefore = heapMb();
  const heapByQuarter: number[] = [];
  let nextQuarter = n / 4;
  let goodCommits = 0;
  let stopGood = false;
  const goodLoop = (async () => {
    await until(() => good.scope(FLEET) !== undefined && !good.scopes().find((s) => s.name === FLEET)!.joining, 10_000);
    while (!stopGood) {
      await good.commit(FLEET, new Uint8Array(randomBytes(64)));
      goodCommits++;
      await sleep(10);
    }
  })();

  let inputs = 0;
  let rawLinks = 0;
  let raw: Link | null = null;
  while (inputs < n) {
    for (let i = 0; i < 200; i++) {
      const r = rnd();
      const h = pick(rnd, hostiles);
      if (r < 0.15) {
        if (raw === null || !raw.open || rnd() < 0.01) {
          if (raw !== null) void raw.close();
          const [lt, lr] = createMemoryLinkPair({ seal: 'off' });
          target.attach(lt);
          raw = lr;
          rawLinks++;
        }
        raw.send(rnd() < 0.5 ? hostile(rnd, seeds) : semantic(h, hostileIds[0]!));
      } else if (r < 0.25) {
        if (!sealedP.open) continue;
        const { body, kind } = sealedHostile();
        if (kind === 'sealed') sealedInjected++;
        else if (kind === 'unsealed') unsealedInjected++;
        else handshakeInjected++;
        sealedP.send(body);
      } else {
        if (!h.link.open) Object.assign(h, connectHostile(h.engine)); // the target closed it: come back
        const q = rnd();
        // One in ten: a compact batch of the fleet scope under the target's own number (issue 17).
        let body = q < 0.1 ? batchPush(h) : q < 0.55 ? hostile(rnd, seeds) : semantic(h, hostileIds[hostiles.indexOf(h)]!);
        // Before the link is up a 0x53 body is dropped uncounted (§7); keep the bad-frame count exact.
        while (isSealed(body) && !h.session.authenticated) body = body.subarray(1);
        h.link.send(body);
      }
      inputs++;
    }
    if (far.isOpen && far.writableLength < 16384) {
      const chunk = rnd() < 0.5 ? bytes(rnd, 1 + int(rnd, 512)) : encodeSerialFrame(hostile(rnd, seeds).subarray(0, 4000));
      far.write(Buffer.from(chunk));
      serialChunks++;
      inputs++;
    }
    await new Promise((r) => setImmediate(r));
    // Growth that is garbage is gone after the forced GC; what stays and climbs with the inputs is held.
    if (inputs >= nextQuarter && heapByQuarter.length < 4) {
      heapByQuarter.push(heapMb());
      nextQuarter += n / 4;
    }
  }
  cfg.log(`fuzz-v2: live gateway ${inputs} inputs (${rawLinks} raw links, ${serialChunks} serial chunks); waiting for the good peer`);
  stopGood = true;
  await goodLoop;
  const ids = (e: EngineV2): string => {
    const h = e.scope(FLEET);
    const out: string[] = [];
    if (h !== undefined) for (let i = 0; i < h.store.size; i++) if (h.store.isRetained(i)) out.push(toHex(h.store.idOf(i)));
    return out.sort().join();
  };
  const converged = goodCommits > 0 && (await until(() => ids(good) === ids(target), 30_000, 100));
  const heapAfter = heapMb();
  const fleet = target.scope(FLEET)!;
  // Whether the scope's ingest (one queue per scope) still drains: an input that never settles wedges every later one.
  const ingestIdle = await Promise.race([fleet.ingest.idle().then(() => true), sleep(5000).then(() => false)]);
  const audit = await auditSignaturesYielding(target, keysByAuthor([targetId, goodId, relayedId, sealedId, ...hostileIds].map((i) => i.publicKey)));
  const relayedStored = [...batchSource.signedFresh].filter((h) => fleet.store.indexOf(fromHex(h)) >= 0).length;
  const targetSessions = target.sessions().length;
  const figures: Figures = {
    live_inputs: inputs,
    live_serial_chunks: serialChunks,
    live_raw_links: rawLinks,
    live_bad_frames_counted: sessions.reduce((a, s) => a + s.stats.badFrames, 0),
    live_unknown_scope_counted: sessions.reduce((a, s) => a + s.stats.unknownScope, 0),
    live_intake_dropped: sessions.reduce((a, s) => a + s.stats.intakeDropped, 0),
    live_undecodable_sent: undecodableSent,
    live_errors_answered: errorsAnswered,
    live_sealed_link: sealedLink,
    live_sealed_link_survived: sealedP.open && sealedT.open && sealedSession.authenticated,
    live_sealed_injected: sealedInjected,
    live_sealed_counted: st.sealFailures - base.failures + (st.replays - base.replays),
    live_unsealed_injected_on_sealed: unsealedInjected,
    live_unsealed_dropped_on_sealed: st.unsealedDropped - base.unsealed,
    live_sealed_intake_dropped: st.intakeDropped - base.intake,
    live_handshake_injected_on_sealed: handshakeInjected,
    live_sealed_rehandshakes: st.rehandshakes - base.rehandshakes,
    live_sealed_bad_frames: st.badFrames - base.bad,
    serial_frame_errors_counted: serialFrameErrors,
    heap_before_mb: heapBefore,
    heap_after_mb: heapAfter,
    heap_growth_mb: round(heapAfter - heapBefore),
    heap_gc_forced: gcForced,
    heap_mb_by_quarter: heapByQuarter,
    heap_sessions_attached: sessions.length,
    heap_target_sessions_open: targetSessions,
    live_target_ingest_idle: ingestIdle,
    live_batch_pushes: batchPushes,
    live_batches_by_kind: batchSource.sent,
    live_target_batches_received: fleet.ingest.stats.batches.received,
    live_target_batches_verified: fleet.ingest.stats.batches.verified,
    live_target_batches_covered_skips: fleet.ingest.stats.batches.coveredSkips,
    live_target_batches_uncovered: fleet.ingest.stats.batches.uncovered,
    live_target_rejected: { ...fleet.ingest.stats.rejected } as Record<string, number>,
    live_relayed_signed_sent: batchSource.signedFresh.size,
    live_relayed_stored: relayedStored,
    live_target_held_commands: audit.held,
    live_target_signatures_checked: audit.signed,
    live_target_bad_signatures: audit.bad + audit.unknownAuthor + audit.undecodable,
    good_peer_commits: goodCommits,
    good_peer_converged: converged,
  };
  if (!converged) {
    // Which way the sync fell behind: the target's commands the good peer lacks, and the reverse.
    const [g, tg] = [new Set(ids(good).split(',')), new Set(ids(target).split(','))];
    cfg.log(`fuzz-v2: good peer NOT converged (${goodCommits} commits): it lacks ${[...tg].filter((x) => !g.has(x)).length} of the target's commands, the target ${[...g].filter((x) => !tg.has(x)).length} of its own`);
  }
  await serialT.close();
  if (far.isOpen) await new Promise<void>((r) => far.close(() => r()));
  sim.dispose();
  await Promise.all([target.close(), good.close(), sealedEngine.close(), ...hostiles.map((h) => h.engine.close())]);
  process.off('uncaughtException', onCrash);
  process.off('unhandledRejection', onCrash);
  return { inputs, crashes, figures };
}

/**
 * Event-loop stalls from polls (issue 11). One 27 KB TCP write of 2,000 `PollRequest`s used to
 * freeze an agent holding a 20,000-command graph for 23 s: every poll was answered at once, each
 * re-walking the graph. Here a trusted but hostile peer over a real TCP socket fires such bursts
 * and the test measures the worst event-loop block with a setInterval-lag probe (cross-checked
 * with `perf_hooks.monitorEventLoopDelay`), while a well-behaved second peer polls and the agent
 * commits locally.
 *
 * The bound asserted — no block longer than 100 ms — is the target. It is a timing
 * assertion on purpose, kept honest on a loaded 2-core machine by what it measures: the main
 * thread's CPU time during the longest gap between probe ticks (Linux's per-thread schedstat),
 * not wall time, which on a machine shared with a dozen other processes mostly measures their
 * turns (wall time gets a generous 1 s bound). The queue spends at most ~8 ms of a turn, and the
 * largest single piece is decoding one TCP read of 2,000 frames (~5 ms warm, ~35 ms cold); the
 * old code blocked for tens of seconds. The peers seal, as TCP links do by default: every frame
 * costs an AEAD open (and most an AEAD seal for the answer), so a session handles the frames of
 * one read at most ~8 ms a turn and continues on the next (`Intake`); the tests wait until every
 * frame of a burst was handled before they stop the probe. Building the graph is not measured. Typical figures on
 * this machine at load average 17–21: 16–31 ms (warm bursts), 26–37 ms (the first, cold one).
 */
import t, { type Test } from 'tap';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { MemoryStore } from '../agent/store/memory-store.js';
import { randomDag } from '../testkit/synthetic-commands.js';
import { Engine } from '../agent/sync/engine.js';
import type { PeerSession } from '../agent/sync/peer-session.js';
import { StreamLink } from '../agent/transport/stream-link.js';
import { generateIdentity, type Identity } from '../protocol/keys.js';
import { RawWire } from '../testkit/raw-wire.js';
import { TcpFrameDecoder, encodeTcpFrame } from '../protocol/tcp-frame.js';
import type { Message, PollResponse } from '../protocol/messages.js';
import { ReasonCode } from '../protocol/errors.js';
import { until as waitUntil } from '../testkit/wait.js';

/** {@link waitUntil} checking every 5 ms (the polite peer's answer time is read off it). */
const until = (cond: () => boolean, timeoutMs: number, what: string): Promise<number> => waitUntil(cond, timeoutMs, what, 5);

const GRAPH = 20_000;
const BURST = 2_000;
/** The target for the worst event-loop block, ms. */
const MAX_BLOCK_MS = 100;

/**
 * A raw protocol peer over TCP: does the handshake (sealed, as TCP links are by default), then
 * lets the test send frames at will.
 */
class RawPeer {
  readonly socket: net.Socket;
  readonly received: Message[] = [];
  private readonly decoder = new TcpFrameDecoder();
  private readonly wire: RawWire;
  up = false;

  constructor(
    port: number,
    readonly id: Identity,
  ) {
    this.wire = new RawWire(id);
    this.socket = net.connect({ host: '127.0.0.1', port });
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => {
      for (const body of this.decoder.push(chunk).frames) this.onFrame(body);
    });
    this.socket.on('error', () => undefined);
    this.socket.once('connect', () => this.socket.write(encodeTcpFrame(this.wire.hello)));
  }

  private onFrame(body: Uint8Array): void {
    const msg = this.wire.receive(body, (auth) => {
      if (!this.up) this.socket.write(encodeTcpFrame(auth));
    });
    if (msg === null) return;
    this.received.push(msg);
    if (msg.type === 'Auth') this.up = true; // the agent verified ours and sent its own (last copy)
  }

  /** Send `msgs` in one TCP write. */
  write(msgs: Message[] | Buffer): void {
    this.socket.write(Buffer.isBuffer(msgs) ? msgs : this.encode(msgs));
  }

  /**
   * `msgs` as one TCP write, sealed (encode before measuring: this process is the attacker too).
   * Sealing numbers frames: writes must go out in the order they were encoded.
   */
  encode(msgs: Message[]): Buffer {
    return Buffer.concat(msgs.map((m) => encodeTcpFrame(this.wire.encode(m))));
  }

  answers(): PollResponse[] {
    return this.received.filter((m): m is PollResponse => m.type === 'PollResponse');
  }
}

/**
 * Worst gap between ticks of a 2 ms interval, minus the interval: the longest block, in wall
 * time (`wallMs`, cross-checked by `monitorEventLoopDelay`) and in CPU time the main thread spent
 * during the gap (`cpuMs`, never more than the gap). On a machine shared by many processes the
 * wall figure includes time the OS gave to others; the CPU figure is the work that blocked us.
 */
function lagProbe(): { stop(): { wallMs: number; cpuMs: number; histogramMs: number } } {
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  // The main thread's own CPU time where Linux tells it (ns, /proc/thread-self/schedstat): V8's
  // compiler and GC helper threads and other processes are not loop blocks. Elsewhere: the
  // process's CPU time, an upper bound.
  const cpuNow = (): number => {
    try {
      return Number(readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ')[0]) / 1e6;
    } catch {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    }
  };
  let last = performance.now();
  let lastCpu = cpuNow();
  let wall = 0;
  let cpu = 0;
  const tick = (): void => {
    const now = performance.now();
    const c = cpuNow();
    wall = Math.max(wall, now - last - 2);
    cpu = Math.max(cpu, Math.min(now - last, c - lastCpu) - 2);
    last = now;
    lastCpu = c;
  };
  const timer = setInterval(tick, 2);
  timer.unref(); // a failed assertion must not leave it keeping the process alive
  return {
    stop() {
      clearInterval(timer);
      tick();
      h.disable();
      return { wallMs: wall, cpuMs: cpu, histogramMs: h.max / 1e6 };
    },
  };
}

/** An agent holding a 20,000-command graph on a real TCP listener, a hostile and a polite peer. */
async function rig(tt: Test) {
  const store = new MemoryStore();
  for (const c of randomDag(GRAPH, 11)) store.append(c);
  const attacker = generateIdentity();
  const polite = generateIdentity();
  const own = generateIdentity();
  const peers: RawPeer[] = [];
  const sessions: PeerSession[] = [];
  const engine = new Engine({
    identity: own,
    store,
    trust: { mode: 'list', keys: [attacker.publicKey, polite.publicKey] },
    subscribe: false,
  });
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    sessions.push(engine.attach(new StreamLink(socket, { description: 'tcp://test', decoder: new TcpFrameDecoder(), encode: encodeTcpFrame, maxFrame: 65536 })));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  tt.teardown(async () => {
    for (const p of peers) p.socket.destroy();
    await engine.close();
    await new Promise((r) => server.close(r));
  });
  const port = (server.address() as net.AddressInfo).port;
  const bad = new RawPeer(port, attacker);
  const good = new RawPeer(port, polite);
  peers.push(bad, good);
  await until(() => sessions.filter((s) => s.authenticated).length === 2, 20_000, 'both peers authenticated');
  /** The up session with `peerId` (the handle `attach` returned). */
  const sessionOf = (peerId: string): PeerSession => sessions.find((s) => s.authenticated && s.peerId === peerId)!;
  return { store, engine, bad, good, attacker, sessionOf };
}

t.test('a 2,000-poll burst in one TCP write never blocks the loop for more than 100 ms', async (tt) => {
  const { store, engine, bad, good, attacker, sessionOf } = await rig(tt);

  const heads = store.heads().map((h) => Uint8Array.from(store.idOf(h)));
  const ids = Array.from({ length: BURST }, (_, i) => Uint8Array.from(store.idOf((i * 7919) % GRAPH)));
  // Bootstrap polls (empty heads: each a whole-graph walk) and polls naming scattered commands.
  const bursts: Message[][] = [
    Array.from({ length: BURST }, (_, i) => ({ type: 'PollRequest' as const, session: i + 1, max_bytes: 65536, heads: [], sample: [] })),
    Array.from({ length: BURST }, (_, i) => ({ type: 'PollRequest' as const, session: BURST + i + 1, max_bytes: 65536, heads: [ids[i]!], sample: [] })),
  ];
  // Sealed in the order they are written: the warm-up first.
  const warmup = bad.encode(Array.from({ length: BURST }, (_, i) => ({ type: 'PollRequest' as const, session: 3 * BURST + i + 1, max_bytes: 65536, heads: [], sample: [] })));
  const writes = bursts.map((b) => bad.encode(b));
  tt.ok(writes[0]!.length > 20_000 && writes[0]!.length < 90_000, `the first burst is one write of ${writes[0]!.length} bytes (the issue's was 27 KB, unsealed)`);

  // A first burst on cold code (V8 has not optimised frame decoding, the walk and answer encoding
  // yet): the bound holds for it too, and it is reported apart.
  const cold = lagProbe();
  bad.write(warmup);
  await until(() => bad.answers().some((a) => a.session === 4 * BURST), 30_000, 'the warm-up burst answered');
  const coldBlock = cold.stop();
  tt.comment(`first (cold) burst: worst block ${coldBlock.cpuMs.toFixed(1)} ms of CPU, ${coldBlock.wallMs.toFixed(1)} ms wall`);
  tt.ok(coldBlock.cpuMs <= MAX_BLOCK_MS, `cold burst: worst loop block ${coldBlock.cpuMs.toFixed(1)} ms of CPU ≤ ${MAX_BLOCK_MS} ms`);
  // The graph's construction garbage is the test's, not the agent's: collect it before measuring.
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  const probe = lagProbe();
  const commitMs: number[] = [];
  const politeMs: number[] = [];
  const badSession = sessionOf(attacker.peerId);
  const measuredFrom = bad.received.length;
  const framesIn = badSession.stats.framesIn;
  const supersededBefore = badSession.stats.pollsSuperseded;
  const deferredBefore = badSession.stats.pollsDeferred;
  let busy = 0;
  for (const [k, burst] of bursts.entries()) {
    // A link above its high-water mark leaves polls unanswered (the requester's timeout retries
    // them); this attacker does not retry, so it waits for the last answer to drain first.
    await until(() => !badSession.blocked, 30_000, 'the link drained');
    const before = bad.received.length;
    bad.write(writes[k]!);
    // Meanwhile: a local commit, and a polite peer's poll that names our heads (nothing to send).
    const c0 = performance.now();
    const committed = engine.commit(new Uint8Array([1, 2, 3])).then(() => commitMs.push(performance.now() - c0));
    const session = 900_000 + politeMs.length;
    const p0 = performance.now();
    good.write([{ type: 'PollRequest', session, max_bytes: 4096, heads, sample: [] }]);
    await until(() => good.answers().some((a) => a.session === session), 20_000, 'the polite peer answered');
    politeMs.push(performance.now() - p0);
    await committed;
    const last = (burst[burst.length - 1] as { session: number }).session;
    // The answer: a PollResponse to the newest poll, or Busy once the walks it forced (about 5
    // tokens each for this graph) emptied its bucket — work is charged, not only idle polls.
    const replies = (): Message[] => bad.received.slice(before).filter((m) => m.type === 'PollResponse' || m.type === 'Error');
    await until(() => replies().some((m) => (m.type === 'PollResponse' && m.session === last) || m.type === 'Error'), 30_000, 'the burst answered');
    const answered = replies();
    const reply = answered[answered.length - 1]!;
    if (reply.type === 'Error') busy++;
    tt.ok(reply.type === 'PollResponse' ? reply.session === last : reply.type === 'Error' && reply.code === ReasonCode.Busy, `the newest poll is answered (${reply.type === 'Error' ? 'Busy' : 'PollResponse'})`);
    heads.splice(0, heads.length, ...store.heads().map((h) => Uint8Array.from(store.idOf(h))));
  }
  // Every poll of the bursts handled (frames of one read are spread over turns, a bounded slice
  // each) and either answered, superseded by a newer one, or deferred; the probe covers it all.
  const answers = (): number => bad.received.slice(measuredFrom).filter((m) => m.type === 'PollResponse' || m.type === 'Error').length;
  const st = badSession.stats;
  await until(() => st.framesIn - framesIn >= 2 * BURST && answers() + st.pollsSuperseded - supersededBefore + st.pollsDeferred - deferredBefore >= 2 * BURST, 30_000, 'every poll of the bursts handled');
  const { wallMs, cpuMs, histogramMs } = probe.stop();
  tt.comment(`worst loop block: ${cpuMs.toFixed(1)} ms of CPU, ${wallMs.toFixed(1)} ms wall (monitorEventLoopDelay ${histogramMs.toFixed(1)} ms); load average ${loadavg()[0]!.toFixed(1)}; commit ${commitMs.map((x) => x.toFixed(1)).join(', ')} ms; polite poll ${politeMs.map((x) => x.toFixed(1)).join(', ')} ms`);
  tt.ok(cpuMs <= MAX_BLOCK_MS, `worst loop block ${cpuMs.toFixed(1)} ms of CPU ≤ ${MAX_BLOCK_MS} ms`);
  // Wall time on a shared 2-core machine includes other processes' turns: generous bound.
  tt.ok(wallMs <= 10 * MAX_BLOCK_MS, `worst loop block ${wallMs.toFixed(1)} ms wall ≤ ${10 * MAX_BLOCK_MS} ms`);
  // Generous: a local commit on a memory store takes well under a millisecond unloaded; what
  // matters is that it is not queued behind the burst (it used to wait for all of it: seconds).
  for (const ms of commitMs) tt.ok(ms < 1000, `a concurrent local commit completed in ${ms.toFixed(1)} ms`);
  for (const ms of politeMs) tt.ok(ms < 1000, `another peer's poll was answered in ${ms.toFixed(1)} ms`);
  tt.comment(`bursts refused Busy: ${busy} of ${bursts.length}`);
  const superseded = st.pollsSuperseded - supersededBefore;
  tt.comment(`${2 * BURST} polls: ${answers()} answered, ${superseded} superseded, ${st.pollsDeferred - deferredBefore} deferred; ${st.intakeDropped} frames dropped unread`);
  tt.ok(answers() <= (2 * BURST) / 20, `one poll per link: ${answers()} answers to ${2 * BURST} polls in two writes`);
  tt.ok(superseded >= (2 * BURST * 9) / 10, 'the superseded polls are counted');
});

t.test('a burst of 2,000 Subscribes with an empty sample never blocks the loop for more than 100 ms', async (tt) => {
  const { engine, bad, good, sessionOf } = await rig(tt);
  // Each Subscribe naming nothing makes the subscriber's pending work the whole graph; with a
  // 1 MiB budget, every push pass plans and sends a megabyte, then the budget is exhausted and
  // the next Subscribe starts over.
  // One sealed copy per round: a sealed frame opens once (a resent one is a replay).
  const subs = [0, 1, 2].map(() => bad.encode(Array.from({ length: BURST }, () => ({ type: 'Subscribe' as const, remain_open: 600, max_bytes: 1 << 20, sample: [], via: [] }))));
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  const probe = lagProbe();
  const commitMs: number[] = [];
  const badSession = sessionOf(bad.id.peerId);
  const framesIn = badSession.stats.framesIn;
  for (let round = 0; round < 3; round++) {
    const before = bad.received.length;
    bad.write(subs[round]!);
    const c0 = performance.now();
    await engine.commit(new Uint8Array([round]));
    commitMs.push(performance.now() - c0);
    await until(() => bad.received.slice(before).some((m) => m.type === 'Error' && m.code === ReasonCode.BudgetExhausted), 60_000, 'the push budget exhausted');
    await until(() => !badSession.blocked, 60_000, 'the link drained');
  }
  // Frames of one read are handled over several turns: the probe covers every one of them.
  await until(() => badSession.stats.framesIn - framesIn >= 3 * BURST, 60_000, 'every Subscribe handled');
  const { wallMs, cpuMs } = probe.stop();
  const pushed = bad.received.filter((m) => m.type === 'Push').length;
  tt.comment(`subscribe bursts: worst loop block ${cpuMs.toFixed(1)} ms of CPU, ${wallMs.toFixed(1)} ms wall; ${pushed} pushes; commits ${commitMs.map((x) => x.toFixed(1)).join(', ')} ms`);
  tt.ok(cpuMs <= MAX_BLOCK_MS, `worst loop block ${cpuMs.toFixed(1)} ms of CPU ≤ ${MAX_BLOCK_MS} ms`);
  tt.ok(wallMs <= 10 * MAX_BLOCK_MS, `worst loop block ${wallMs.toFixed(1)} ms wall ≤ ${10 * MAX_BLOCK_MS} ms`);
  void good;
});

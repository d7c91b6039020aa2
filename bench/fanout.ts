/**
 * Fan-out on the v2 engine: one commit to the bench scope, 128 subscribers of it over TCP
 * loopback, time until every subscriber appended it; p99 over many commits (hdr histogram).
 *
 * The publisher (one engine and its TCP listener) runs here; the 128 subscribers run in child
 * processes (bench/fanout-subscribers.ts, one per core, 128 / cores engines each), as the
 * bootstrap bench's responder does: in deployment every subscriber is its own device, and 128
 * engines verifying and storing in the publisher's own thread measured their sum, not the fan-out.
 * They share this machine's cores with the publisher all the same. A commit's time is from just
 * before `commit()` until the last child reported all of its engines appended it, on
 * `performance.timeOrigin + performance.now()` in every process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { attachTransport } from '../agent/node/attach-transport.js';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import { Role } from '../protocol/constants-v2.js';
import { generateIdentity, toHex } from '../protocol/keys.js';
import { wallMs, type SubscribersJob } from './fanout-subscribers.js';
import { LatencyHistogram, QUICK, median, payload, plots, round, sleep, until } from './util.js';
import { BENCH_SCOPE } from './v2-setup.js';

const N = 128;
const RWA = Role.Read | Role.Write | Role.Admin;

/** One child holding a share of the subscribers: resolves when it printed READY. */
function startChild(job: SubscribersJob, done: Map<number, number>[]): Promise<ChildProcess> {
  const script = fileURLToPath(new URL('./fanout-subscribers.js', import.meta.url));
  const child = spawn(process.execPath, [script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const mine = new Map<number, number>();
  done.push(mine);
  child.stdin!.write(`${JSON.stringify(job)}\n`);
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line === 'READY') return resolve(child);
      const m = /^D (\d+) ([\d.]+)$/.exec(line);
      if (m) mine.set(Number(m[1]), Number(m[2]));
    });
    child.once('exit', (code) => reject(new Error(`a subscriber process exited ${code}`)));
  });
}

/** One run: `commits` measured after 10 warm-up commits. */
async function oneRun(commits: number): Promise<LatencyHistogram> {
  const subs = Array.from({ length: N }, () => generateIdentity());
  const pub = await EngineV2.open({ identity: generateIdentity(), trust: { mode: 'list', keys: subs.map((s) => s.publicKey) }, scopes: { max: Infinity }, tuning: { subscriptionCapacity: N } });
  pub.setMaxListeners(0);
  await pub.createScope({ name: BENCH_SCOPE, members: [{ publicKey: pub.identity.publicKey, roles: RWA }], openRead: true });
  const l = await attachTransport('tcp-listen://127.0.0.1:0', pub, { reconnectBaseMs: 50, reconnectMaxMs: 1000, maxConnections: 1024, maxPreAuth: 1024, maxPreAuthPerAddress: 1024 });
  const workers = Math.max(1, Math.min(availableParallelism(), 8));
  const done: Map<number, number>[] = [];
  const children: ChildProcess[] = [];
  try {
    const shares = Array.from({ length: workers }, (_, w) => subs.filter((_, i) => i % workers === w));
    for (const share of shares) {
      children.push(await startChild({ port: l.localPort!, publisher: toHex(pub.identity.publicKey), publisherId: pub.peerId, secrets: share.map((s) => toHex(s.secretKey)) }, done));
    }
    const id = pub.scope(BENCH_SCOPE)!.id;
    await until(() => pub.sessions().filter((s) => s.authenticated && pub.subscribedBy(s, id)).length === N, 60_000, 'all 128 subscribed at the publisher', 10);
    const h = new LatencyHistogram();
    for (let k = 1; k <= commits + 10; k++) {
      const t0 = wallMs();
      await pub.commit(BENCH_SCOPE, payload(100, k));
      await until(() => done.every((m) => m.has(k)), 30_000, `commit ${k} at every subscriber`, 0);
      const t1 = Math.max(...done.map((m) => m.get(k)!));
      if (k > 10) h.recordMs(t1 - t0);
      await sleep(2);
    }
    return h;
  } finally {
    for (const c of children) c.stdin!.end();
    await Promise.all(children.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
    await l.close();
    await pub.close();
  }
}

export async function benchFanout(): Promise<Record<string, number>> {
  const runs = QUICK ? 1 : 3;
  const commits = QUICK ? 60 : 150;
  const p50s: number[] = [];
  const p99s: number[] = [];
  let samples: number[] = [];
  for (let r = 0; r < runs; r++) {
    const h = await oneRun(commits);
    p50s.push(h.pMs(50));
    p99s.push(h.pMs(99));
    samples = samples.concat(h.samples);
  }
  plots.latency_fanout_128 = samples;
  return { 'fanout_128.p50_ms': round(median(p50s)), 'fanout_128.p99_ms': round(median(p99s)) };
}

/**
 * Pre-authentication lockout, against real processes: a `syncwire gateway` (dist/, build first;
 * protocol 2, the default)
 * listening on loopback TCP is flooded from this process by 1,500 concurrent idle sockets from 30
 * source addresses (127.0.0.1–30, the trusted peer's own address among them), each reconnecting
 * as soon as the gateway closes it. A trusted `syncwire agent` started during the flood must be
 * admitted (the gateway logs it authenticated) within 10 s — the bound; today's figure is
 * printed. The gateway's log stays a handful of summary lines, and its resident memory is sampled
 * (/proc/<pid>/status) through the flood and a burst of 2,000 polls from a trusted raw client.
 *
 * Before this, the listener held 256 sockets (the 257th refused at accept, one warn line each) and
 * dropped a silent one after 60 s: the trusted peer stayed out for as long as the flood lasted.
 */
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { generateIdentity, toHex, type Identity } from '../protocol/keys.js';
import { SealedRawPeerV2 } from '../testkit/raw-peer-sealed-v2.js';
import { TcpFrameDecoder, encodeTcpFrame } from '../protocol/tcp-frame.js';

const MAIN = resolve('dist/agent/cli/main.js');
if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (npx tsc -p tsconfig.json)`);
const childEnv: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS' && k !== 'NODE_V8_COVERAGE' && !k.startsWith('_TAPJS_')),
);

const FLOOD = 1500;
const SOURCES = 30;
/** The bound for admitting a trusted peer during the flood. */
const ADMIT_BOUND_MS = 10_000;
/** How long the flood lasts after the trusted peer started; SYNCWIRE_FLOOD_HOLD_S raises it for memory measurements. */
const HOLD_MS = Number(process.env.SYNCWIRE_FLOOD_HOLD_S ?? 12) * 1000;

const dirs: string[] = [];
const children = new Set<ChildProcess>();
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'swfl-'));
  dirs.push(d);
  return d;
};
t.teardown(() => {
  for (const c of children) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Proc {
  child: ChildProcess;
  lines: string[];
  /** Resolves with the first parsed log line for which `match` holds. */
  waitFor(match: (l: Record<string, unknown>) => boolean, timeoutMs: number): Promise<Record<string, unknown>>;
}

function start(args: string[], nodeArgs: string[] = []): Proc {
  const child = spawn(process.execPath, [...nodeArgs, MAIN, ...args], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('close', () => children.delete(child));
  const lines: string[] = [];
  const watchers: Array<(l: Record<string, unknown>) => void> = [];
  let rest = '';
  child.stderr!.on('data', (d: Buffer) => {
    rest += d.toString('utf8');
    const parts = rest.split('\n');
    rest = parts.pop()!;
    for (const p of parts) {
      lines.push(p);
      let j: Record<string, unknown>;
      try {
        j = JSON.parse(p) as Record<string, unknown>;
      } catch {
        continue;
      }
      for (const w of [...watchers]) w(j);
    }
  });
  child.stdout!.resume();
  return {
    child,
    lines,
    waitFor: (match, timeoutMs) =>
      new Promise((res, rej) => {
        const timer = setTimeout(() => rej(new Error(`no matching log line within ${timeoutMs} ms; last: ${lines.slice(-5).join('\n')}`)), timeoutMs);
        const w = (l: Record<string, unknown>): void => {
          if (!match(l)) return;
          clearTimeout(timer);
          watchers.splice(watchers.indexOf(w), 1);
          res(l);
        };
        watchers.push(w);
      }),
  };
}

async function keygen(file: string): Promise<{ peerId: string; publicKey: string }> {
  const child = spawn(process.execPath, [MAIN, 'keygen', '--out', file, '--json'], { env: childEnv, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  await new Promise((r) => child.on('close', r));
  return JSON.parse(out) as { peerId: string; publicKey: string };
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** Keep `n` idle sockets open to `port`, reopening each one the server closes, until `stop()`. */
function flood(port: number, n: number): { stop: () => void; opened: () => number; open: () => number } {
  let stopped = false;
  let opened = 0;
  let live = 0;
  const sockets = new Set<net.Socket>();
  // Bounded: at most 200 reconnects per slot, whatever happens.
  const MAX_TOTAL = n * 200;
  const one = (i: number): void => {
    if (stopped || opened >= MAX_TOTAL) return;
    opened++;
    const s = net.connect({ port, host: '127.0.0.1', localAddress: `127.0.0.${1 + (i % SOURCES)}` });
    sockets.add(s);
    s.on('connect', () => live++);
    s.on('error', () => undefined);
    s.on('data', () => undefined); // read the gateway's Hello, never answer
    s.on('close', (hadError) => {
      sockets.delete(s);
      if (s.remotePort !== undefined || !hadError) live = Math.max(0, live - 1);
      // A refused connect (full backlog) is retried a little later, like a real attacker would.
      setTimeout(() => one(i), hadError ? 20 : 0);
    });
  };
  for (let i = 0; i < n; i++) one(i);
  return {
    stop: () => {
      stopped = true;
      for (const s of sockets) s.destroy();
    },
    opened: () => opened,
    open: () => sockets.size,
  };
}

/**
 * A trusted peer speaking protocol 2 by hand (sealed handshake, testkit/raw-peer-sealed-v2.ts),
 * then whatever the test sends. Resolves once the gateway opened a scope toward it (its device
 * scope), or 5 s after the link came up if it opens none.
 */
async function rawPeer(port: number, me: Identity): Promise<{ socket: net.Socket; peer: SealedRawPeerV2 }> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  await new Promise((r) => socket.once('connect', r));
  const dec = new TcpFrameDecoder();
  const peer = new SealedRawPeerV2(me);
  socket.write(encodeTcpFrame(peer.hello));
  let upAt = 0;
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new Error('raw peer: no handshake')), 10_000);
    socket.on('data', (chunk: Buffer) => {
      for (const f of dec.push(chunk).frames) {
        for (const out of peer.receive(f)) socket.write(encodeTcpFrame(out));
        if (peer.up && upAt === 0) upAt = Date.now();
        if (peer.firstNumber() !== undefined || (upAt > 0 && Date.now() - upAt > 5000)) {
          clearTimeout(timer);
          res();
        }
      }
    });
  });
  return { socket, peer };
}

/** The NODE_OPTIONS of docs/syncwire.service (the production unit). */
function unitNodeOptions(): string {
  const m = /^Environment=NODE_OPTIONS=(.*)$/m.exec(readFileSync(resolve('docs/syncwire.service'), 'utf8'));
  if (!m?.[1]) throw new Error('docs/syncwire.service sets no NODE_OPTIONS');
  return m[1].trim();
}

t.test('a trusted peer gets in within seconds during a 1,500-connection pre-auth flood', { timeout: 240_000 + HOLD_MS }, async (tt) => {
  const gw = tmp();
  const ag = tmp();
  const gk = await keygen(join(gw, 'key.json'));
  const ak = await keygen(join(ag, 'key.json'));
  const raw = generateIdentity();
  // The memory bound below is the unit's, so the gateway runs with the unit's node flags (its
  // NODE_OPTIONS heap cap: without it V8 sizes the heap from this machine's RAM, not from
  // MemoryMax, and lets garbage pile up: 175-195 MB measured here). SYNCWIRE_FLOOD_NODE_ARGS
  // replaces them (e.g. '' to measure without the cap).
  const nodeArgs = (process.env.SYNCWIRE_FLOOD_NODE_ARGS ?? unitNodeOptions()).split(' ').filter((a) => a !== '');
  tt.comment(`gateway node flags: ${nodeArgs.join(' ') || '(none)'}`);
  const gateway = start(['gateway', '-d', gw, '--listen', 'tcp-listen://127.0.0.1:0', '--trust-key', ak.publicKey, '--trust-key', toHex(raw.publicKey), '--log-level', 'info'], nodeArgs);
  const opened = await gateway.waitFor((l) => l.msg === 'transport open', 20_000);
  const port = opened.port as number;
  const pid = gateway.child.pid!;
  const baseKb = rssKb(pid);
  const linesBefore = gateway.lines.length;

  const f = flood(port, FLOOD);
  let peakKb = baseKb;
  const sampler = setInterval(() => (peakKb = Math.max(peakKb, rssKb(pid))), 100);
  tt.teardown(() => {
    clearInterval(sampler);
    f.stop();
  });
  // Steady state: every flood slot has been opened at least once and the gateway is evicting.
  const by = Date.now() + 60_000;
  while (f.opened() < FLOOD * 2 && Date.now() < by) await new Promise((r) => setTimeout(r, 100));
  tt.ok(f.opened() >= FLOOD * 2, `flood running: ${f.opened()} connections opened, ${f.open()} open`);

  const t0 = Date.now();
  const agent = start(['agent', '-d', ag, '--link', `tcp://127.0.0.1:${port}`, '--trust-key', gk.publicKey, '--status-socket', '', '--log-level', 'info']);
  const started = await agent.waitFor((l) => l.msg === 'agent started', 30_000);
  const t1 = Date.now();
  await gateway.waitFor((l) => l.msg === 'peer up' && l.peer === ak.peerId, 60_000);
  const admitMs = Date.now() - t1;
  tt.comment(`trusted peer admitted ${admitMs} ms after it started (${Date.now() - t0} ms after spawn) during the flood; ${f.opened()} flood connections so far`);
  tt.ok(started, 'agent started');
  tt.ok(admitMs <= ADMIT_BOUND_MS, `admitted within ${ADMIT_BOUND_MS} ms (took ${admitMs} ms)`);

  // A burst of 2,000 polls from a trusted raw peer while the flood goes on: memory stays bounded.
  const p = await rawPeer(port, raw);
  const burst: Uint8Array[] = [];
  const scope = p.peer.firstNumber() ?? 0; // its device scope on the gateway
  tt.ok(p.peer.firstNumber() !== undefined, 'the gateway opened a scope (the raw peer\'s device scope) toward the raw peer');
  for (let i = 0; i < 2000; i++) burst.push(encodeTcpFrame(p.peer.frame({ type: 'PollRequest', scope, session: i + 1, max_bytes: 65536, heads: [], sample: [], window: 0 })));
  p.socket.write(Buffer.concat(burst));
  await new Promise((r) => setTimeout(r, 3000));
  p.socket.destroy();
  // Hold the flood past one summary interval (10 s), or longer to measure memory over time.
  while (Date.now() - t0 < HOLD_MS) await new Promise((r) => setTimeout(r, 200));

  // Log lines while flooded: summaries (one per 10 s) plus the peers coming up, not one per socket.
  const floodLines = gateway.lines.slice(linesBefore);
  const summaries = floodLines.filter((l) => l.includes('unauthenticated connections from'));
  tt.comment(`gateway log: ${floodLines.length} lines during the flood (${summaries.length} summaries) for ${f.opened()} connections`);
  tt.ok(summaries.length >= 1, 'refusals are summarised');
  tt.ok(floodLines.length <= 10 + HOLD_MS / 2000, `log stays small: ${floodLines.length} lines`);
  tt.ok(floodLines.every((l) => !l.includes('"level":40') || l.includes('unauthenticated connections from')), 'the only warnings are summaries');
  clearInterval(sampler);
  f.stop();
  tt.comment(`gateway RSS: ${Math.round(baseKb / 1024)} MB before, peak ${Math.round(peakKb / 1024)} MB during ${Math.round((Date.now() - t0) / 1000)} s of flood + poll burst; ${f.opened()} connections`);
  const lastSummary = summaries.at(-1);
  if (lastSummary !== undefined) tt.comment(`last summary: ${JSON.parse(lastSummary).msg}`);
  tt.ok(peakKb < 160 * 1024, `peak RSS ${Math.round(peakKb / 1024)} MB stays well under the unit's MemoryMax (256 MB)`);
  agent.child.kill('SIGTERM');
  gateway.child.kill('SIGTERM');
});

t.test('a silent connection is closed at the handshake deadline (5 s), not after 60 s', { timeout: 60_000 }, async (tt) => {
  const gw = tmp();
  await keygen(join(gw, 'key.json'));
  const gateway = start(['gateway', '-d', gw, '--listen', 'tcp-listen://127.0.0.1:0', '--log-level', 'info']);
  const port = (await gateway.waitFor((l) => l.msg === 'transport open', 20_000)).port as number;
  const s = net.connect({ port, host: '127.0.0.1' });
  s.on('data', () => undefined);
  s.on('error', () => undefined);
  await new Promise((r) => s.once('connect', r));
  const t0 = Date.now();
  const closed = await Promise.race([
    new Promise<boolean>((r) => s.once('close', () => r(true))),
    new Promise<boolean>((r) => setTimeout(() => r(false), 30_000)),
  ]);
  const ms = Date.now() - t0;
  s.destroy();
  tt.ok(closed, `closed by the gateway after ${ms} ms`);
  // The deadline is 5 s; the bound leaves room for a loaded machine but not for the old 60 s.
  tt.ok(ms >= 4000 && ms < 30_000, `closed after the 5 s deadline (${ms} ms)`);
  const summary = await gateway.waitFor((l) => typeof l.msg === 'string' && l.msg.includes('timed out 1 '), 20_000);
  tt.ok(summary, 'the timeout is reported in the summary line');
  gateway.child.kill('SIGTERM');
});

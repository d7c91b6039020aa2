/**
 * The local HTTP API's memory budget (issue 15: an idle agent's RSS with the API enabled grows by
 * at most 3 MB). Three real agents (`node dist/agent/cli/main.js agent --config FILE`, a temp data
 * dir and key each, one `tcp-listen://127.0.0.1:0` link, no peer) start together per run:
 *
 * - `off`:  `statusSocket: ""` — no API listener at all;
 * - `unix`: the API on the unix socket (`statusSocket`, the default; always on in practice);
 * - `tcp`:  the unix socket and the TCP listener `api.listen` with a bearer token.
 *
 * Once each has logged `agent started`, every listening agent is scraped N times on each of its
 * listeners (`GET /metrics` then `GET /v1/status`, through agent/api/api-client.ts), then all idle
 * for a settle time; VmRSS from /proc/PID/status, median of 5 samples 200 ms apart. Median over
 * the runs per variant. `api.rss_idle_delta_mb` = tcp − off (everything the API can listen on,
 * scraped, against no listener); unix − off on a revision that accepts `api.listen` but does not
 * serve it (`api.tcp_listener_served` 0, said in the notes). The API's modules are imported statically by the CLI, so all
 * three variants hold them; their import cost is measured apart (`api.rss_import_mb`: a fresh
 * node that imported the engine, store and snapshot modules, then every agent-side module of
 * agent/api/; gc before each reading).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { apiRequest, ApiAnswerError, type ApiTarget } from '../agent/api/api-client.js';
import { writeKeyFile } from '../agent/cli/keys.js';
import { generateIdentity } from '../protocol/keys.js';
import { repoRoot } from '../scripts/repo-root.js';
import { QUICK, freePort, median, notes, round, sleep } from './util.js';

type Variant = 'off' | 'unix' | 'tcp';
const VARIANTS: readonly Variant[] = ['off', 'unix', 'tcp'];

interface Agent {
  child: ChildProcess;
  targets: ApiTarget[];
  log: () => string;
}

function vmRssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error('no VmRSS');
  return Number(m[1]) / 1024;
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((r) => {
    if (child.exitCode !== null || child.signalCode !== null) return r();
    const t = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => (clearTimeout(t), r()));
    child.kill('SIGTERM');
  });
}

/** Start one agent of `variant` in a fresh data dir under `dir`. */
async function startAgent(dir: string, variant: Variant): Promise<Agent> {
  const data = mkdtempSync(join(dir, `${variant}-`));
  chmodSync(data, 0o700);
  const key = join(data, 'key.json');
  writeKeyFile(key, generateIdentity());
  const sock = join(data, 'api.sock');
  const cfg: Record<string, unknown> = {
    dataDir: data, keyFile: key, links: ['tcp-listen://127.0.0.1:0'], trust: { mode: 'list', keys: [] }, log: { level: 'info' },
    statusSocket: variant === 'off' ? '' : sock,
  };
  const targets: ApiTarget[] = variant === 'off' ? [] : [{ socketPath: sock }];
  if (variant === 'tcp') {
    const token = 'bench-token-0123456789abcdef';
    const tokenFile = join(data, 'api.token');
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    const port = await freePort();
    cfg.api = { listen: `127.0.0.1:${port}`, tokenFile };
    targets.push({ url: `http://127.0.0.1:${port}`, token });
  }
  const file = join(data, 'config.json');
  writeFileSync(file, JSON.stringify(cfg));
  const child = spawn(process.execPath, [join(repoRoot(), 'dist', 'agent', 'cli', 'main.js'), 'agent', '--config', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-20_000)));
  return { child, targets, log: () => log };
}

async function started(a: Agent, variant: Variant, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!a.log().includes('agent started')) {
    if (a.child.exitCode !== null) throw new Error(`${variant} agent exited ${a.child.exitCode}: ${a.log().slice(0, 400)}`);
    if (Date.now() > deadline) throw new Error(`${variant} agent did not start: ${a.log().slice(0, 400)}`);
    await sleep(50);
  }
}

/** `n` × (GET /metrics, GET /v1/status) on every target; answers counted by status. */
async function scrape(a: Agent, n: number, statuses: Record<string, number>): Promise<void> {
  for (const target of a.targets) {
    for (let i = 0; i < n; i++) {
      for (const path of ['/metrics', '/v1/status']) {
        let status: number;
        try {
          status = (await apiRequest(target, 'GET', path)).status;
        } catch (err) {
          if (!(err instanceof ApiAnswerError)) throw err;
          status = err.status;
        }
        const k = `${path} ${status}`;
        statuses[k] = (statuses[k] ?? 0) + 1;
      }
    }
  }
}

/** Whether anything answers HTTP at `target` within a few seconds (the listener may start just after the log line). */
async function answers(target: ApiTarget): Promise<boolean> {
  for (let i = 0; i < 30; i++) {
    try {
      await apiRequest(target, 'GET', '/healthz', { timeoutMs: 2000 });
      return true;
    } catch (err) {
      if (err instanceof ApiAnswerError) return true;
      await sleep(100);
    }
  }
  return false;
}

/** MB the agent-side modules of agent/api/ add to a fresh node that holds the engine already. */
function importCostMb(): number {
  const dist = join(repoRoot(), 'dist', 'agent');
  const url = (p: string): string => pathToFileURL(join(dist, p)).href;
  const base = ['sync/engine.js', 'store/disk-store.js', 'cli/snapshot.js', 'cli/config.js'].map(url);
  // The client is the CLI's side, not the agent's.
  const api = readdirSync(join(dist, 'api')).filter((f) => f.endsWith('.js') && f !== 'api-client.js').map((f) => url(`api/${f}`));
  const script = `
    const settle = async () => { for (let i = 0; i < 3; i++) { gc(); await new Promise((r) => setTimeout(r, 30)); } };
    for (const m of ${JSON.stringify(base)}) await import(m);
    for (let i = 0, t = ''; i < 2e5; i++) t = String(i).repeat(8);
    await settle();
    const r0 = process.memoryUsage.rss();
    for (const m of ${JSON.stringify(api)}) await import(m);
    await settle();
    console.log((process.memoryUsage.rss() - r0) / 2 ** 20);`;
  const runs = Array.from({ length: 5 }, () => Number(execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script]).toString().trim()));
  return median(runs);
}

/** The `api` suite (see the file comment). */
export async function benchApiRss(): Promise<Record<string, number>> {
  const runs = QUICK ? 3 : 5;
  const scrapes = QUICK ? 20 : 50;
  const settleMs = QUICK ? 2000 : 3000;
  const dir = mkdtempSync(join(tmpdir(), 'syncwire-api-rss-'));
  const rss: Record<Variant, number[]> = { off: [], unix: [], tcp: [] };
  const statuses: Record<string, number> = {};
  let tcpMissing = 0;
  try {
    for (let r = 0; r < runs; r++) {
      const agents: Partial<Record<Variant, Agent>> = {};
      try {
        for (const v of VARIANTS) agents[v] = await startAgent(dir, v);
        for (const v of VARIANTS) await started(agents[v]!, v, 15_000);
        // A revision that accepts `api.listen` but does not serve it yet: measure the unix socket only.
        const tcp = agents.tcp!;
        const tcpTarget = tcp.targets[1];
        if (tcpTarget !== undefined && !(await answers(tcpTarget))) {
          tcpMissing++;
          tcp.targets.splice(1);
        }
        for (const v of VARIANTS) await scrape(agents[v]!, scrapes, statuses);
        await sleep(settleMs);
        const samples: Record<Variant, number[]> = { off: [], unix: [], tcp: [] };
        for (let i = 0; i < 5; i++) {
          for (const v of VARIANTS) samples[v].push(vmRssMb(agents[v]!.child.pid!));
          await sleep(200);
        }
        for (const v of VARIANTS) {
          if (agents[v]!.child.exitCode !== null) throw new Error(`${v} agent exited: ${agents[v]!.log().slice(0, 400)}`);
          rss[v].push(median(samples[v]));
        }
      } finally {
        await Promise.allSettled(Object.values(agents).map((a) => stop(a.child)));
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const m = (v: Variant): number => median(rss[v]);
  const importMb = importCostMb();
  const perRun = (v: Variant): string => rss[v].map((x) => round(x, 1)).join(', ');
  notes.push(
    `api: VmRSS per run, MB — off ${perRun('off')}; unix ${perRun('unix')}; tcp ${perRun('tcp')}. ` +
      `Answers to the ${scrapes} scrapes per listener and run: ${Object.entries(statuses).sort().map(([k, n]) => `${k} ×${n}`).join(', ')}. ` +
      `The API modules' import cost (\`api.rss_import_mb\`, ${round(importMb, 2)} MB) is paid by all three variants (static imports).` +
      (tcpMissing > 0
        ? ` In ${tcpMissing} of ${runs} runs the \`tcp\` agent accepted \`api.listen\` but nothing answered on it (the TCP listener is not served at this revision): \`api.rss_idle_delta_mb\` is unix − off there, and the tcp variant only differs by its config.`
        : ''),
  );
  const top: Variant = tcpMissing > 0 ? 'unix' : 'tcp';
  return {
    'api.rss_idle_mb.off': round(m('off'), 2),
    'api.rss_idle_mb.unix': round(m('unix'), 2),
    'api.rss_idle_mb.tcp': round(m('tcp'), 2),
    'api.rss_idle_delta_mb': round(m(top) - m('off'), 2),
    'api.rss_idle_delta_mb.unix': round(m('unix') - m('off'), 2),
    'api.rss_import_mb': round(importMb, 2),
    'api.tcp_listener_served': tcpMissing > 0 ? 0 : 1,
    'api.scrapes_per_listener': scrapes,
    'api.metrics_ok_share': round((statuses['/metrics 200'] ?? 0) / Math.max(1, Object.entries(statuses).filter(([k]) => k.startsWith('/metrics')).reduce((s, [, n]) => s + n, 0)), 3),
  };
}

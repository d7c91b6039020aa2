/**
 * The local HTTP API's memory budget (issue 15: an idle agent's RSS with the API enabled grows by
 * at most 3 MB). Three real agents (`node dist/agent/cli/main.js agent --config FILE`, protocol 2
 * (the default: the v2 engine), a temp data dir and key each, one `tcp-listen://127.0.0.1:0`
 * link, no peer) start together per run:
 *
 * - `off`:  `statusSocket: ""` — no API listener at all;
 * - `unix`: the API on the unix socket (`statusSocket`, the default; always on in practice);
 * - `tcp`:  the unix socket and the TCP listener `api.listen` with a bearer token.
 *
 * Once each has logged `agent started` and settled (3 s), VmRSS is read (`listening`: median of 5
 * samples 200 ms apart, from /proc/PID/status); then each listening agent is scraped N times on
 * the listener it is about (unix: the socket; tcp: TCP with the token) — `GET /metrics` then
 * `GET /v1/status` through agent/api/api-client.ts — and read again at once (`burst`) and after
 * an idle time long enough for V8's memory reducer (`idle`). Medians over the runs.
 * `api.rss_idle_delta_mb` = tcp − off, idle (the issue's "idle agent with the API enabled");
 * unix − off on a revision that accepts `api.listen` but does not serve it
 * (`api.tcp_listener_served` 0, said in the notes). The API's modules are imported statically by
 * the CLI, so all three variants hold them; their import cost is measured apart
 * (`api.rss_import_mb`: a fresh node that imported the v2 engine, scope store and snapshot modules, then
 * every agent-side module of agent/api/; gc before each reading).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { apiRequest, ApiAnswerError, type ApiTarget } from '../agent/api/api-client.js';
import { writeKeyFile } from '../agent/cli/keys.js';
import { generateIdentity } from '../protocol/keys.js';
import { repoRoot } from '../scripts/repo-root.js';
import { QUICK, freePort, median, notes, round, sleep, stopChild, vmRssMb } from './util.js';

type Variant = 'off' | 'unix' | 'tcp';
const VARIANTS: readonly Variant[] = ['off', 'unix', 'tcp'];

interface Agent {
  child: ChildProcess;
  targets: ApiTarget[];
  log: () => string;
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

/** `n` × (GET /metrics, GET /v1/status) on each of the agent's targets; answers counted by status. */
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
  const base = ['sync/engine-v2.js', 'store/scope-store.js', 'cli/snapshot-v2.js', 'cli/config.js'].map(url);
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

type Phase = 'listening' | 'burst' | 'idle';
const PHASES: readonly Phase[] = ['listening', 'burst', 'idle'];

/** Median VmRSS of each agent over 5 samples 200 ms apart, MB. */
async function sampleAll(agents: Record<Variant, Agent>): Promise<Record<Variant, number>> {
  const samples: Record<Variant, number[]> = { off: [], unix: [], tcp: [] };
  for (let i = 0; i < 5; i++) {
    for (const v of VARIANTS) {
      if (agents[v].child.exitCode !== null) throw new Error(`${v} agent exited: ${agents[v].log().slice(0, 400)}`);
      samples[v].push(vmRssMb(agents[v].child.pid!));
    }
    await sleep(200);
  }
  return { off: median(samples.off), unix: median(samples.unix), tcp: median(samples.tcp) };
}

/** The `api` suite (see the file comment). */
export async function benchApiRss(): Promise<Record<string, number>> {
  const runs = QUICK ? 3 : 5;
  const scrapes = QUICK ? 20 : 50;
  const idleMs = QUICK ? 10_000 : 15_000;
  const dir = mkdtempSync(join(tmpdir(), 'syncwire-api-rss-'));
  const rss: Record<Phase, Record<Variant, number[]>> = { listening: { off: [], unix: [], tcp: [] }, burst: { off: [], unix: [], tcp: [] }, idle: { off: [], unix: [], tcp: [] } };
  const statuses: Record<string, number> = {};
  let tcpMissing = 0;
  try {
    for (let r = 0; r < runs; r++) {
      const started_: Partial<Record<Variant, Agent>> = {};
      try {
        for (const v of VARIANTS) started_[v] = await startAgent(dir, v);
        for (const v of VARIANTS) await started(started_[v]!, v, 15_000);
        const agents = started_ as Record<Variant, Agent>;
        // A revision that accepts `api.listen` but does not serve it: the tcp agent is scraped on its unix socket.
        const tcpTarget = agents.tcp.targets[1];
        if (tcpTarget !== undefined && !(await answers(tcpTarget))) {
          tcpMissing++;
          agents.tcp.targets.splice(1);
        }
        // Each listening agent gets the same N scrapes, on the listener it is about (tcp: TCP).
        for (const v of VARIANTS) agents[v].targets.splice(0, agents[v].targets.length - 1);
        await sleep(3000);
        const phase = (p: Phase, at: Record<Variant, number>): void => VARIANTS.forEach((v) => rss[p][v].push(at[v]));
        phase('listening', await sampleAll(agents));
        for (const v of VARIANTS) await scrape(agents[v], scrapes, statuses);
        phase('burst', await sampleAll(agents));
        // Idle long enough for V8's memory reducer (it acts some seconds after allocation stops).
        await sleep(idleMs);
        phase('idle', await sampleAll(agents));
      } finally {
        await Promise.allSettled(Object.values(started_).map((a) => stopChild(a.child)));
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const m = (p: Phase, v: Variant): number => median(rss[p][v]);
  const importMb = importCostMb();
  const perRun = (p: Phase): string => VARIANTS.map((v) => `${v} ${rss[p][v].map((x) => round(x, 1)).join(', ')}`).join('; ');
  notes.push(
    `api: VmRSS per run, MB. Listening, never scraped: ${perRun('listening')}. Right after ${scrapes} scrapes: ${perRun('burst')}. ` +
      `After ${idleMs / 1000} s idle: ${perRun('idle')}. Answers: ${Object.entries(statuses).sort().map(([k, n]) => `${k} ×${n}`).join(', ')}. ` +
      `The API modules' import cost (\`api.rss_import_mb\`, ${round(importMb, 2)} MB) is paid by all three variants (static imports).` +
      (tcpMissing > 0
        ? ` In ${tcpMissing} of ${runs} runs the \`tcp\` agent accepted \`api.listen\` but nothing answered on it (the TCP listener is not served at this revision): \`api.rss_idle_delta_mb\` is unix − off there.`
        : ''),
  );
  const top: Variant = tcpMissing > 0 ? 'unix' : 'tcp';
  const out: Record<string, number> = {};
  for (const v of VARIANTS) out[`api.rss_idle_mb.${v}`] = round(m('idle', v), 2);
  out['api.rss_idle_delta_mb'] = round(m('idle', top) - m('idle', 'off'), 2);
  out['api.rss_idle_delta_mb.unix'] = round(m('idle', 'unix') - m('idle', 'off'), 2);
  out['api.rss_listening_delta_mb'] = round(m('listening', top) - m('listening', 'off'), 2);
  out['api.rss_burst_delta_mb'] = round(m('burst', top) - m('burst', 'off'), 2);
  out['api.rss_import_mb'] = round(importMb, 2);
  out['api.tcp_listener_served'] = tcpMissing > 0 ? 0 : 1;
  out['api.scrapes_per_agent'] = scrapes;
  const metricsAnswers = Object.entries(statuses).filter(([k]) => k.startsWith('/metrics')).reduce((n, [, c]) => n + c, 0);
  out['api.metrics_ok_share'] = round((statuses['/metrics 200'] ?? 0) / Math.max(1, metricsAnswers), 3);
  return out;
}

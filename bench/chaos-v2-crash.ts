/**
 * Power cut of protocol-2 processes: a real `syncwire gateway --protocol 2` (tcp-listen on port
 * 0, device scopes kept without bound) and a real `syncwire agent --protocol 2` dialing it, both
 * on data dirs on disk with durability `always`. Committers post to the agent's API (its default
 * scope, `device/self`) as fast as it answers, recording each acknowledged id; the agent is
 * SIGKILLed at seeded random moments and restarted on the same data dir, `cycles` times; the
 * gateway is SIGKILLed once mid-run and restarted on the same port. Every `tornEvery`-th kill
 * also plays a power cut in the middle of a write (SIGKILL alone leaves the page cache intact):
 * a torn v3 record is appended to the scope's last segment, which the restarted agent must cut
 * off and log; other cycles may kill the restarted agent once more while it starts. At the end
 * every acknowledged id must be in the agent's scope and, after a
 * settle, at the gateway. Needs dist/ built; run from the repository root (testkit/cli-proc.ts).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { apiRequest } from '../agent/api/api-client.js';
import { scopeIds, tornRepairsIn, writeTornTail } from './chaos-v2-crash-kit.js';
import { CliHarness, statusUntil, type Started } from '../testkit/cli-proc.js';
import { mulberry32 } from '../testkit/prng.js';
import { sleep } from '../testkit/wait.js';

/** Options of {@link runCrashV2}. */
export interface CrashV2Options {
  /** Agent kill cycles. */
  cycles: number;
  /** Seed of the kill schedule. */
  seed: number;
  /** Agent run time before each kill: uniform in [minRunMs, maxRunMs) (defaults 200, 1500). */
  minRunMs?: number;
  maxRunMs?: number;
  /** A torn tail is written after every `tornEvery`-th kill (default 3; 0: never). */
  tornEvery?: number;
  /**
   * Every `earlyKillEvery`-th cycle (from the first) without a torn tail, the restarted agent is first SIGKILLed
   * 0–800 ms after its spawn, while it opens its stores or attaches its links (default 4; 0: never).
   */
  earlyKillEvery?: number;
  /** Concurrent committers (default 4, so fsyncs are shared as in production). */
  committers?: number;
  /** Longest wait for the gateway to hold every acknowledged id (default 60 s). */
  settleMs?: number;
  log: (m: string) => void;
}

/** Figures of one run (flat, as bench/chaos-v2.json holds them). */
export type CrashV2Figures = Record<string, number | boolean | string>;

/** Run the scenario; never throws for a loss (that is a figure), only for a harness failure. */
export async function runCrashV2(o: CrashV2Options): Promise<CrashV2Figures> {
  const rand = mulberry32(o.seed);
  const minRun = o.minRunMs ?? 200;
  const maxRun = o.maxRunMs ?? 1500;
  const tornEvery = o.tornEvery ?? 3;
  const earlyEvery = o.earlyKillEvery ?? 4;
  const h = new CliHarness();
  const t0 = Date.now();
  try {
    const root = h.tmp('swcv2-');
    const gwDir = join(root, 'gw');
    const aDir = join(root, 'a');
    const gk = await h.keygen(join(gwDir, 'key.json'));
    const ak = await h.keygen(join(aDir, 'key.json'));
    const scope = `device/${ak.peerId}`;
    const gwCfg = join(gwDir, 'config.json');
    const aCfg = join(aDir, 'config.json');
    writeFileSync(gwCfg, JSON.stringify({ protocol: 2, durability: 'always', scopes: { deviceScopes: { retention: {} } } }), { mode: 0o600 });
    writeFileSync(aCfg, JSON.stringify({ protocol: 2, durability: 'always', scopes: { default: 'device/self' } }), { mode: 0o600 });
    const gwSock = join(gwDir, 'status.sock');
    const aSock = join(aDir, 'status.sock');

    const startGateway = async (port: number): Promise<Started> => {
      const g = h.start(['gateway', '--config', gwCfg, '--data-dir', gwDir, '--listen', `tcp-listen://127.0.0.1:${port}`, '--trust-key', ak.publicKey]);
      await g.waitStderr(/agent started/, 60_000);
      return g;
    };
    let gw = await startGateway(0);
    const st = await statusUntil(gwSock, (s) => typeof s.transports?.[0]?.localPort === 'number');
    const port = st.transports[0].localPort as number;
    let tornRepaired = 0;
    const agentArgs = ['agent', '--config', aCfg, '--data-dir', aDir, '--link', `tcp://127.0.0.1:${port}`, '--trust-key', gk.publicKey];
    const startAgent = async (): Promise<Started> => {
      const a = h.start(agentArgs);
      await a.waitStderr(/agent started/, 60_000);
      return a;
    };

    let agent = await startAgent();
    const held = await statusUntil(aSock, (s) => Array.isArray(s.scopes) && s.scopes.some((x: { name: string; joining: boolean }) => x.name === scope && !x.joining), 60_000);
    const scopeId = String((held.scopes as { name: string; id: string }[]).find((x) => x.name === scope)!.id);
    const scopeDir = join(aDir, 'scopes', scopeId);

    // The committers: one command at a time each, as fast as the agent answers; a failed post
    // (the agent is dead or starting) is not acknowledged and is retried shortly after.
    const acked = new Set<string>();
    let failedPosts = 0;
    let stop = false;
    let n = 0;
    const committer = async (w: number): Promise<void> => {
      while (!stop) {
        try {
          const r = await apiRequest({ socketPath: aSock }, 'POST', '/v1/commands', { body: JSON.stringify({ w, n: n++ }), contentType: 'application/json' });
          acked.add((r.json as { id: string }).id);
        } catch {
          failedPosts++;
          await sleep(20);
        }
      }
    };
    const workers = Array.from({ length: o.committers ?? 4 }, (_, w) => committer(w));

    const gwKillAt = Math.floor(o.cycles / 2);
    let agentKills = 0;
    let notKilled = 0;
    let tornWritten = 0;
    let earlyKills = 0;
    let gatewayKills = 0;
    // Every acknowledged id ever found missing: at the agent after a restart or at the end, at the gateway after the settle.
    const lostIds = new Set<string>();
    let lostAtRestart = 0;
    const restartMs: number[] = [];
    for (let i = 0; i < o.cycles; i++) {
      const run = minRun + Math.floor(rand() * (maxRun - minRun));
      if (i === gwKillAt) {
        // The gateway's power cut, while the agent keeps committing locally.
        await sleep(Math.floor(run / 2));
        gw.child.kill('SIGKILL');
        await gw.done;
        gatewayKills++;
        gw = await startGateway(port);
        await sleep(Math.floor(run / 2));
      } else await sleep(run);
      const r = await agent.stop('SIGKILL');
      if (r.signal !== 'SIGKILL') notKilled++;
      agentKills++;
      tornRepaired += tornRepairsIn(r.stderr);
      if (tornEvery > 0 && i % tornEvery === tornEvery - 1) {
        writeTornTail(scopeDir);
        tornWritten++;
      } else if (earlyEvery > 0 && i % earlyEvery === 0) {
        // Not after a torn tail: a kill between its cut and its log line would hide the repair.
        const e = h.start(agentArgs);
        await sleep(Math.floor(rand() * 800));
        const er = await e.stop('SIGKILL');
        if (er.signal !== 'SIGKILL') {
          notKilled++;
          o.log(`crash-v2: an agent ended before its early kill: ${er.stderr.slice(-400)}`);
        }
        earlyKills++;
      }
      const before = new Set(acked);
      const r0 = Date.now();
      agent = await startAgent();
      restartMs.push(Date.now() - r0);
      const have = await scopeIds(aSock, scope);
      const missing = [...before].filter((id) => !have.has(id));
      for (const id of missing) lostIds.add(id);
      lostAtRestart += missing.length;
      if (missing.length > 0) o.log(`crash-v2: ${missing.length} acknowledged ids missing after restart ${i + 1}, e.g. ${missing[0]}`);
    }
    stop = true;
    await Promise.all(workers);

    const atAgent = await scopeIds(aSock, scope);
    let lostAgent = 0;
    for (const id of acked) {
      if (atAgent.has(id)) continue;
      lostAgent++;
      lostIds.add(id);
    }
    const s0 = Date.now();
    const settleMs = o.settleMs ?? 60_000;
    let missingGw: string[] = [...acked];
    while (Date.now() - s0 < settleMs) {
      const atGw = await scopeIds(gwSock, scope).catch(() => new Set<string>());
      missingGw = [...acked].filter((id) => !atGw.has(id));
      if (missingGw.length === 0) break;
      await sleep(100);
    }
    for (const id of missingGw) lostIds.add(id);
    const convergeMs = Date.now() - s0;
    const ra = await agent.stop('SIGTERM');
    const rg = await gw.stop('SIGTERM');
    tornRepaired += tornRepairsIn(ra.stderr);
    const figures: CrashV2Figures = {
      cycles: o.cycles,
      seed: o.seed,
      agent_kills: agentKills,
      early_kills: earlyKills,
      gateway_kills: gatewayKills,
      not_killed: notKilled,
      acknowledged: acked.size,
      lost: lostIds.size,
      lost_at_agent: lostAgent,
      lost_at_restart: lostAtRestart,
      missing_at_gateway: missingGw.length,
      converged: missingGw.length === 0,
      converge_ms: convergeMs,
      torn_tails_written: tornWritten,
      torn_tails_repaired: tornRepaired,
      failed_posts: failedPosts,
      restart_ms_max: Math.max(0, ...restartMs),
      clean_exit: ra.code === 0 && rg.code === 0,
      seconds: Math.round((Date.now() - t0) / 100) / 10,
    };
    o.log(`crash-v2: ${JSON.stringify(figures)}`);
    return figures;
  } finally {
    h.cleanup();
  }
}

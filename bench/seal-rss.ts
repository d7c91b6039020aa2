/**
 * Idle resident memory of a compiled agent process whose one link is up sealed, against one
 * whose link is up with `seal=off` (bench/rss.ts's measure: VmRSS from /proc/PID/status after it
 * settles, median of five samples over a second). A link only seals with a peer, so each agent
 * (`node dist/agent/cli/main.js agent --config FILE`, link `tcp://127.0.0.1:PORT?seal=…`) dials
 * a v2 engine in the harness listening with the same policy; both trust each other, and the agent
 * (protocol 2, the default) joins the open-read bench scope the harness engine holds, so its link
 * carries the scope's opening and polls. The two agents of a run start together (memory does not
 * care that they share the cores). The seal check watches the frames the harness sends each agent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeKeyFile } from '../agent/cli/keys.js';
import { attachLinks } from '../agent/node/attach-transport.js';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import { openTransport, type OpenedTransport } from '../agent/transport/registry.js';
import { Role } from '../protocol/constants-v2.js';
import { generateIdentity, toHex, type Identity } from '../protocol/keys.js';
import { repoRoot } from '../scripts/repo-root.js';
import { watchSealed, sealedShare, type Mode, type PerMode } from './seal-links.js';
import { median, sleep, stopChild, vmRssMb } from './util.js';
import { BENCH_SCOPE, peerUpV2 } from './v2-setup.js';



/** Start an agent with identity `id` dialing `url`, trusting `peer`. */
function startAgent(dir: string, id: Identity, url: string, peer: Identity): { child: ChildProcess; stderr: () => string } {
  const data = mkdtempSync(join(dir, 'agent-'));
  const key = join(data, 'key.json');
  writeKeyFile(key, id);
  const cfg = join(data, 'config.json');
  writeFileSync(cfg, JSON.stringify({ dataDir: data, keyFile: key, links: [url], trust: { mode: 'list', keys: [toHex(peer.publicKey)] }, scopes: { join: [BENCH_SCOPE] }, log: { level: 'warn' }, durability: 'always' }));
  const child = spawn(process.execPath, [join(repoRoot(), 'dist', 'agent', 'cli', 'main.js'), 'agent', '--config', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return { child, stderr: () => err };
}

/** `runs` × (sealed agent, off agent) side by side; VmRSS in MB per mode and run. */
export async function sealRss(runs: number, settleMs: number): Promise<PerMode> {
  const res: PerMode = { sealed: { values: [], shares: [] }, off: { values: [], shares: [] } };
  const dir = mkdtempSync(join(tmpdir(), 'syncwire-seal-rss-'));
  const policy: Record<Mode, string> = { sealed: 'require', off: 'off' };
  try {
    for (let r = 0; r < runs; r++) {
      const agents: Record<Mode, Identity> = { sealed: generateIdentity(), off: generateIdentity() };
      const hostId = generateIdentity();
      const host = await EngineV2.open({ identity: hostId, trust: { mode: 'list', keys: [agents.sealed.publicKey, agents.off.publicKey] }, scopes: { max: Infinity } });
      await host.createScope({ name: BENCH_SCOPE, members: [{ publicKey: hostId.publicKey, roles: Role.Read | Role.Write | Role.Admin }], openRead: true });
      // From the start: the scope offer and the agent's first polls come right after its Hello.
      const watches = { sealed: watchSealed(host, agents.sealed.peerId), off: watchSealed(host, agents.off.peerId) };
      const listeners: OpenedTransport[] = [];
      const procs: Partial<Record<Mode, { child: ChildProcess; stderr: () => string }>> = {};
      try {
        for (const mode of ['sealed', 'off'] as const) {
          const l = await openTransport(`tcp-listen://127.0.0.1:0?seal=${policy[mode]}`, { reconnectBaseMs: 50, reconnectMaxMs: 1000 });
          attachLinks(l, host);
          listeners.push(l);
          procs[mode] = startAgent(dir, agents[mode], `tcp://127.0.0.1:${l.localPort}?seal=${policy[mode]}`, hostId);
        }
        for (const mode of ['sealed', 'off'] as const) {
          try {
            await peerUpV2(host, agents[mode].peerId, 15000);
          } catch (err) {
            throw new Error(`${mode} agent: ${(err as Error).message}; stderr: ${procs[mode]!.stderr().slice(0, 300)}`);
          }
        }
        await sleep(settleMs);
        const samples: Record<Mode, number[]> = { sealed: [], off: [] };
        for (let i = 0; i < 5; i++) {
          for (const mode of ['sealed', 'off'] as const) samples[mode].push(vmRssMb(procs[mode]!.child.pid!));
          await sleep(200);
        }
        for (const mode of ['sealed', 'off'] as const) {
          if (procs[mode]!.child.exitCode !== null) throw new Error(`${mode} agent exited ${procs[mode]!.child.exitCode}: ${procs[mode]!.stderr().slice(0, 300)}`);
          res[mode].values.push(median(samples[mode]));
          res[mode].shares.push(sealedShare(watches[mode]));
        }
      } finally {
        await Promise.allSettled(Object.values(procs).map((p) => stopChild(p.child)));
        await Promise.allSettled(listeners.map((l) => l.close()));
        await host.close();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return res;
}

/**
 * Resident memory of an idle compiled agent: `node dist/agent/cli/main.js agent --config FILE`
 * (protocol 2, the default: the v2 engine, no scope configured) with one serial link (a socat PTY pair; a missing device when socat is absent) or one MQTT link
 * to the harness's Mosquitto; VmRSS read from /proc/PID/status after it settles (median of
 * samples over one second).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../scripts/repo-root.js';
import { QUICK, median, notes, round, sleep, startMosquitto, stopChild, vmRssMb } from './util.js';


async function agentRss(dir: string, link: string, settleMs: number): Promise<number> {
  const main = join(repoRoot(), 'dist', 'agent', 'cli', 'main.js');
  const data = mkdtempSync(join(dir, 'agent-'));
  const key = join(data, 'key.json');
  const kg = spawnSync(process.execPath, [main, 'keygen', '--out', key], { encoding: 'utf8' });
  if (kg.status !== 0) throw new Error(`keygen failed: ${kg.stderr}`);
  const cfg = join(data, 'config.json');
  writeFileSync(cfg, JSON.stringify({ dataDir: data, keyFile: key, links: [link], log: { level: 'warn' }, durability: 'always' }));
  const child = spawn(process.execPath, [main, 'agent', '--config', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  try {
    await sleep(settleMs);
    if (child.exitCode !== null) throw new Error(`agent exited ${child.exitCode}: ${err.slice(0, 400)}`);
    const xs: number[] = [];
    for (let i = 0; i < 5; i++) {
      xs.push(vmRssMb(child.pid!));
      await sleep(200);
    }
    return median(xs);
  } finally {
    await stopChild(child);
  }
}


export async function benchRss(): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'syncwire-rss-'));
  const runs = QUICK ? 1 : 3;
  const settle = QUICK ? 2500 : 4000;
  const broker = await startMosquitto();
  let socat: ChildProcess | null = null;
  try {
    let serialPath = join(dir, 'ttyA');
    const socatBin = ['/usr/bin/socat', '/bin/socat'].find(existsSync);
    if (socatBin) {
      socat = spawn(socatBin, [`pty,raw,echo=0,link=${serialPath}`, `pty,raw,echo=0,link=${join(dir, 'ttyB')}`], { stdio: 'ignore' });
      for (let i = 0; i < 50 && !existsSync(serialPath); i++) await sleep(50);
    } else {
      serialPath = join(dir, 'no-such-tty');
      notes.push('rss: socat missing, the serial agent ran against a missing device (redialling).');
    }
    const serial: number[] = [];
    const mq: number[] = [];
    const bare: number[] = [];
    for (let r = 0; r < runs; r++) {
      serial.push(await agentRss(dir, `serial:${serialPath}?baud=115200`, settle));
      mq.push(await agentRss(dir, `mqtt://127.0.0.1:${broker.port}/0123456789abcdef`, settle));
      const n = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
      await sleep(1000);
      bare.push(vmRssMb(n.pid!));
      await stopChild(n);
    }
    return { 'rss_mb.idle_serial': round(median(serial), 1), 'rss_mb.idle_mqtt': round(median(mq), 1), 'rss_mb.bare_node': round(median(bare), 1) };
  } finally {
    if (socat) socat.kill('SIGTERM');
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

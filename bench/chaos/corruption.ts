/**
 * Corruption scenario: a real log written by the store's crash child (durability `always`,
 * 4 concurrent writers, each id printed once its fsync resolved: the acknowledged commands), then
 * damaged the way storage fails — one flipped bit, one zeroed 512-byte sector, a cut — at random
 * offsets, hundreds of times, each on a fresh copy in a real directory. After each damage the
 * store is opened: it must open (or refuse with StoreError exit 78 when the header was hit), and
 * every acknowledged command whose record the changed bytes do not overlap must still be held,
 * indexed or kept on disk as an orphan. The repaired log must reopen clean, and the quarantine
 * must hold exactly the bytes skipped. Some trials start a real `syncwire agent` process on the
 * damaged directory instead: it must start or exit 78.
 */
import { spawn } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, fstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runAndKill } from '../../testkit/crash-run.js';
import { DiskStore, LOG_FILE } from '../../agent/store/disk-store.js';
import { applyDamage, survivalOf, type Damage } from '../../agent/store/log-damage.js';
import { FORMAT_V2, HEADER_BYTES } from '../../agent/store/log-format.js';
import { scanRecords } from '../../agent/store/log-scan.js';
import { StoreError } from '../../agent/store/store-errors.js';
import { decodeCommand, type Command } from '../../protocol/command.js';
import { toHex } from '../../protocol/keys.js';
import { mulberry32 } from '../../testkit/prng.js';
import type { ChaosConfig, Figures } from './common.js';

const writer = fileURLToPath(new URL('../../testkit/crash-writer.js', import.meta.url));
const main = fileURLToPath(new URL('../../agent/cli/main.js', import.meta.url));
const KINDS: Damage['kind'][] = ['flip', 'sector', 'truncate'];

/** Every record of a v2 log: the command and its record span. */
function recordsOf(file: string): { cmds: Command[]; spans: Array<[number, number]> } {
  const fd = openSync(file, 'r');
  const cmds: Command[] = [];
  const spans: Array<[number, number]> = [];
  try {
    scanRecords(fd, FORMAT_V2, HEADER_BYTES, fstatSync(fd).size, (body, at, bodyAt) => {
      cmds.push(decodeCommand(Uint8Array.from(body)));
      spans.push([at, bodyAt + body.length]);
      return null;
    });
  } finally {
    closeSync(fd);
  }
  return { cmds, spans };
}

/** Run `syncwire agent` on `dir` until it logs "agent started" (then SIGTERM) or exits. */
function agentRun(dir: string): Promise<{ started: boolean; code: number | null; tail: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main, 'agent', '-d', dir, '--status-socket', ''], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
    let out = '';
    let started = false;
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const on = (s: string): void => {
      out += s;
      if (!started && out.includes('agent started')) {
        started = true;
        child.kill('SIGTERM');
      }
    };
    child.stdout.setEncoding('utf8').on('data', on);
    child.stderr.setEncoding('utf8').on('data', on);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ started, code, tail: out.slice(-300) });
    });
  });
}

export async function runCorruption(cfg: ChaosConfig): Promise<Figures> {
  for (const f of [writer, main]) if (!existsSync(f)) throw new Error(`${f} missing: build first`);
  const trials = cfg.quick ? 60 : 600;
  const agentTrials = cfg.quick ? 6 : 30;
  const t0 = Date.now();
  const root = mkdtempSync(join(tmpdir(), 'syncwire-chaos-corrupt-'));
  const f = {
    trials: 0,
    flips: 0,
    sectors: 0,
    truncations: 0,
    acknowledged: 0,
    records: 0,
    log_bytes: 0,
    lost_outside_damage: 0,
    records_in_damage: 0,
    lost_inside_damage: 0,
    header_refusals_78: 0,
    other_open_failures: 0,
    quarantines: 0,
    quarantined_bytes: 0,
    quarantine_mismatches: 0,
    orphans_kept: 0,
    torn_tails_truncated: 0,
    reopen_not_clean: 0,
    agent_trials: 0,
    agent_started: 0,
    agent_exit_78: 0,
    agent_other_exits: 0,
    agent_lost_outside_damage: 0,
  };
  try {
    // A real log: group-committed appends by a real process, killed mid-run.
    const base = join(root, 'base');
    const acked = new Set<string>();
    for (let i = 0; i < 3; i++) for (const id of (await runAndKill(writer, base, 150 + i * 100)).acked) acked.add(id);
    const { cmds, spans } = recordsOf(join(base, LOG_FILE));
    const log = readFileSync(join(base, LOG_FILE));
    f.acknowledged = acked.size;
    f.records = cmds.length;
    f.log_bytes = log.length;
    const isAcked = cmds.map((c) => acked.has(toHex(c.id)));
    const cmdsAcked = cmds.filter((_, i) => isAcked[i]);
    const spansAcked = spans.filter((_, i) => isAcked[i]);
    const key = join(root, 'key.json');
    const kg = spawn(process.execPath, [main, 'keygen', '--out', key], { stdio: 'ignore' });
    await new Promise((r) => kg.on('close', r));
    const rand = mulberry32(0xc0ffee ^ Date.now());
    for (let trial = 0; trial < trials + agentTrials; trial++) {
      const kind = KINDS[trial % 3]!;
      const viaAgent = trial >= trials;
      // Every tenth trial aims at the first sectors, so header damage is exercised too.
      const aim = trial % 10 === 9 ? () => rand() * Math.min(1, 1024 / log.length) : rand;
      const { bytes, damage } = applyDamage(log, kind, aim);
      const dir = join(root, `t${trial}`);
      mkdirSync(dir, { mode: 0o700 });
      writeFileSync(join(dir, LOG_FILE), bytes, { mode: 0o600 });
      f.trials++;
      if (kind === 'flip') f.flips++;
      else if (kind === 'sector') f.sectors++;
      else f.truncations++;
      if (viaAgent) {
        f.agent_trials++;
        copyFileSync(key, join(dir, 'key.json'));
        const r = await agentRun(dir);
        if (r.started) f.agent_started++;
        else if (r.code === 78 && damage.start < HEADER_BYTES) f.agent_exit_78++;
        else {
          f.agent_other_exits++;
          cfg.log(`corruption: agent exited ${r.code} after ${kind} at ${damage.start}: ${r.tail}`);
        }
        if (!r.started) {
          rmSync(dir, { recursive: true, force: true });
          continue;
        }
      }
      let s: DiskStore;
      try {
        s = await DiskStore.open(dir, { durability: { mode: 'none' }, logger: () => {} });
      } catch (err) {
        if (err instanceof StoreError && err.exitCode === 78 && damage.start < HEADER_BYTES) f.header_refusals_78++;
        else {
          f.other_open_failures++;
          cfg.log(`corruption: open failed after ${kind} at ${damage.start}: ${String(err)}`);
        }
        rmSync(dir, { recursive: true, force: true });
        continue;
      }
      const orphans = new Set(s.orphanBytes().map((b) => toHex(decodeCommand(b).id)));
      const r = survivalOf(cmdsAcked, spansAcked, damage, (id) => s.indexOf(id) >= 0 || orphans.has(toHex(id)));
      if (viaAgent) f.agent_lost_outside_damage += r.lostOutside;
      else f.lost_outside_damage += r.lostOutside;
      if (r.lostOutside > 0) cfg.log(`corruption: ${r.lostOutside} acknowledged commands outside ${kind} ${damage.start}..${damage.end} lost`);
      f.records_in_damage += r.inside;
      f.lost_inside_damage += r.lostInside;
      f.orphans_kept += s.orphanCount;
      const rep = s.openReport;
      if (rep.truncatedBytes > 0) f.torn_tails_truncated++;
      if (rep.skippedBytes > 0 && !viaAgent) {
        f.quarantines++;
        f.quarantined_bytes += rep.skippedBytes;
        if (rep.quarantine === undefined || statSync(rep.quarantine).size !== rep.skippedBytes) f.quarantine_mismatches++;
      }
      const size = s.size;
      await s.close();
      const again = await DiskStore.open(dir, { durability: { mode: 'none' } });
      if (again.size !== size || again.openReport.skippedBytes + again.openReport.truncatedBytes > 0) f.reopen_not_clean++;
      await again.close();
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const figures: Figures = { ...f, seconds: Math.round((Date.now() - t0) / 100) / 10 };
  cfg.log(`corruption: ${JSON.stringify(figures)}`);
  return figures;
}

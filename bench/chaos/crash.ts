/**
 * Crash scenario: the store's crash child (`dist/testkit/crash-writer.js`: a DiskStore with
 * durability `always`, 4 concurrent writers, printing each id once its fsync resolved) is
 * SIGKILLed at a random moment, restarted on the same directory, again and again. After every
 * kill the parent opens the store itself: it must open, hold every id any child acknowledged,
 * and when the tail was torn, truncate it and say so (openReport + one logged line).
 */
import { appendFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runAndKill } from '../../testkit/crash-run.js';
import { DiskStore, LOG_FILE } from '../../agent/store/disk-store.js';
import { tornRecord } from '../../agent/store/log-damage.js';
import { RECORD_HEAD_BYTES } from '../../agent/store/log-format.js';
import { fromHex } from '../../protocol/keys.js';
import type { ChaosConfig, Figures } from './common.js';

const writer = fileURLToPath(new URL('../../testkit/crash-writer.js', import.meta.url));

export async function runCrash(cfg: ChaosConfig): Promise<Figures> {
  if (!existsSync(writer)) throw new Error(`${writer} missing: build first`);
  const kills = cfg.quick ? 10 : 60;
  const dir = mkdtempSync(join(tmpdir(), 'syncwire-chaos-crash-'));
  const t0 = Date.now();
  const acked = new Set<string>();
  let lost = 0;
  let reopenFailures = 0;
  let childOpenFailures = 0;
  let tornTails = 0;
  let tornReported = 0;
  let truncatedBytes = 0;
  let notKilled = 0;
  let powerCuts = 0;
  try {
    for (let i = 0; i < kills; i++) {
      // Random point: anywhere from just after open to ~400 ms of sustained commits.
      const run = await runAndKill(writer, dir, Math.floor(Math.random() * 400));
      if (run.signal !== 'SIGKILL') notKilled++;
      if (!/^open \d+ \d+$/.test(run.opened)) {
        childOpenFailures++;
        cfg.log(`crash: child failed to open the store: ${run.stderr.slice(0, 300)}`);
      }
      for (const id of run.acked) acked.add(id);
      // SIGKILL leaves the page cache intact, so the log never tears by itself here. Every fifth
      // round, play a power cut in the middle of a write: a record head promising 200 bytes and
      // only part of them (what a disk can hold after power loss), then reopen.
      if (i % 5 === 4) {
        appendFileSync(join(dir, LOG_FILE), tornRecord(200, RECORD_HEAD_BYTES + 57));
        powerCuts++;
      }
      const logged: string[] = [];
      let s: DiskStore;
      try {
        s = await DiskStore.open(dir, { durability: { mode: 'always' }, logger: (m) => logged.push(m) });
      } catch (err) {
        reopenFailures++;
        cfg.log(`crash: reopen failed after kill ${i}: ${String(err)}`);
        continue;
      }
      if (s.openReport.truncatedBytes > 0) {
        tornTails++;
        truncatedBytes += s.openReport.truncatedBytes;
        if (logged.length > 0) tornReported++;
      }
      for (const hex of acked) if (s.indexOf(fromHex(hex)) < 0) lost++;
      await s.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const figures: Figures = {
    kills,
    acknowledged: acked.size,
    lost,
    reopen_failures: reopenFailures + childOpenFailures,
    power_cuts_simulated: powerCuts,
    torn_tails_truncated: tornTails,
    torn_tails_reported: tornReported,
    truncated_bytes: truncatedBytes,
    not_killed: notKilled,
    seconds: Math.round((Date.now() - t0) / 100) / 10,
  };
  cfg.log(`crash: ${JSON.stringify(figures)}`);
  return figures;
}

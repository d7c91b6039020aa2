/**
 * The legacy v1 store (`DiskStore` on `commands.log`, what `legacy/v1` and the v1 migration read):
 * damage to a real `commands.log` (a flipped byte, a zeroed 512-byte sector, a truncation, at
 * random offsets, hundreds of times) costs at most the records the damaged bytes overlap. Every
 * other command survives — indexed, or kept on disk as an orphan when an ancestor was lost — the
 * damaged bytes are quarantined, and a damaged header is a StoreError with exit status 78. Also:
 * store orphans resolve when their parent is appended (no second copy is written), children
 * before parents in the file, the log layout upgrade (also killed mid-way), and `syncwire store
 * check|salvage` on a `commands.log`. The scope stores' corruption tests: store-corruption.test.ts.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from '../protocol/command.js';
import { crc32 } from '../protocol/crc32.js';
import { toHex } from '../protocol/keys.js';
import { DiskStore, LOG_FILE } from '../agent/store/disk-store.js';
import { HEADER_BYTES, RECORD_HEAD_BYTES, encodeHeader, recordHead } from '../agent/store/log-format.js';
import { StoreError } from '../agent/store/store-errors.js';
import { mulberry32 } from '../testkit/prng.js';
import { randomDag, syntheticCommand } from '../testkit/synthetic-commands.js';
import { applyDamage, survivalOf, type Damage } from '../agent/store/log-damage.js';

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'syncwire-corrupt-'));
  dirs.push(d);
  return d;
};
t.teardown(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const quiet = (): void => {};

/** The v2 log of `cmds` in this order, and each command's record span. */
function logOf(cmds: Command[]): { log: Buffer; spans: Array<[number, number]> } {
  const parts: Buffer[] = [encodeHeader()];
  const spans: Array<[number, number]> = [];
  let at = HEADER_BYTES;
  for (const c of cmds) {
    parts.push(recordHead(c.bytes), Buffer.from(c.bytes));
    spans.push([at, at + RECORD_HEAD_BYTES + c.bytes.length]);
    at += RECORD_HEAD_BYTES + c.bytes.length;
  }
  return { log: Buffer.concat(parts), spans };
}

/** The same commands as a version-1 log (the layout before the marker). */
function v1LogOf(cmds: Command[]): Buffer {
  const parts: Buffer[] = [encodeHeader(1)];
  for (const c of cmds) {
    const h = Buffer.alloc(8);
    h.writeUInt32LE(c.bytes.length, 0);
    h.writeUInt32LE(crc32(c.bytes), 4);
    parts.push(h, Buffer.from(c.bytes));
  }
  return Buffer.concat(parts);
}

t.test('the store writes exactly the documented v2 layout', async (t) => {
  const cmds = randomDag(30, 1);
  const dir = tmp();
  const s = await DiskStore.open(dir, { durability: { mode: 'none' } });
  for (const c of cmds) s.append(c);
  await s.close();
  t.same(readFileSync(join(dir, LOG_FILE)), logOf(cmds).log);
});

t.test('150 random flips, zeroed sectors and truncations: nothing outside the damage is lost', async (t) => {
  const cmds = randomDag(200, 7);
  const { log, spans } = logOf(cmds);
  const rand = mulberry32(20261201);
  const kinds: Damage['kind'][] = ['flip', 'sector', 'truncate'];
  let lostOutside = 0;
  let refused = 0;
  let orphansSeen = 0;
  let quarantined = 0;
  for (let trial = 0; trial < 150; trial++) {
    const kind = kinds[trial % 3]!;
    const dir = tmp();
    const { bytes, damage } = applyDamage(log, kind, rand);
    writeFileSync(join(dir, LOG_FILE), bytes);
    let s: DiskStore;
    try {
      s = await DiskStore.open(dir, { durability: { mode: 'none' }, logger: quiet });
    } catch (err) {
      refused++;
      const ok = err instanceof StoreError && err.exitCode === 78 && damage.start < HEADER_BYTES;
      if (!ok) t.fail(`trial ${trial} (${kind} at ${damage.start}): open failed: ${String(err)}`);
      rmSync(dir, { recursive: true });
      continue;
    }
    const orphanIds = new Set(await orphanIdsOf(s));
    const r = survivalOf(cmds, spans, damage, (id) => s.indexOf(id) >= 0 || orphanIds.has(toHex(id)));
    lostOutside += r.lostOutside;
    if (r.lostOutside > 0) t.fail(`trial ${trial} (${kind} ${damage.start}..${damage.end}): ${r.lostOutside} commands outside the damage lost`);
    orphansSeen += s.orphanCount;
    if (s.openReport.skippedBytes > 0) {
      quarantined++;
      const q = s.openReport.quarantine!;
      const meta = JSON.parse(readFileSync(`${q}.json`, 'utf8')) as { bytes: number; ranges: Array<{ offset: number; length: number }> };
      if (meta.bytes !== s.openReport.skippedBytes || statSync(q).size !== meta.bytes) t.fail(`trial ${trial}: quarantine holds ${statSync(q).size} bytes, report says ${s.openReport.skippedBytes}`);
      if ((statSync(q).mode & 0o777) !== 0o600) t.fail(`trial ${trial}: quarantine mode ${(statSync(q).mode & 0o777).toString(8)}`);
    }
    const size = s.size;
    await s.close();
    // The repaired log reopens clean, with the same content.
    const again = await DiskStore.open(dir, { durability: { mode: 'none' }, logger: quiet });
    if (again.size !== size || again.openReport.skippedBytes !== 0 || again.openReport.truncatedBytes !== 0) {
      t.fail(`trial ${trial}: reopen not clean: ${JSON.stringify(again.openReport)}`);
    }
    await again.close();
    rmSync(dir, { recursive: true });
  }
  t.equal(lostOutside, 0, 'no command outside the damaged bytes lost');
  t.ok(quarantined > 50, `damage was quarantined in ${quarantined} trials`);
  t.ok(orphansSeen > 0, `orphans were kept (${orphansSeen} in all)`);
  t.comment(`150 trials: ${refused} refused with exit 78 (header hit), ${quarantined} quarantined, ${orphansSeen} orphans kept`);
});

async function orphanIdsOf(s: DiskStore): Promise<string[]> {
  const { decodeCommand } = await import('../protocol/command.js');
  return s.orphanBytes().map((b) => toHex(decodeCommand(b).id));
}

t.test('a lost record in a chain: later records are orphans on disk; appending the parent resolves them without a second copy', async (t) => {
  const p = (s: string) => new TextEncoder().encode(s);
  const chain: Command[] = [];
  for (let i = 0; i < 20; i++) chain.push(syntheticCommand(i === 0 ? [] : [chain[i - 1]!.id], i, p(`link ${i}`)));
  const { log, spans } = logOf(chain);
  const bytes = Buffer.from(log);
  bytes[spans[10]![0] + RECORD_HEAD_BYTES + 2]! ^= 0x01;
  const dir = tmp();
  writeFileSync(join(dir, LOG_FILE), bytes);
  const logged: Array<{ msg: string; fields?: object; level?: string }> = [];
  const s = await DiskStore.open(dir, { durability: { mode: 'always' }, logger: (msg, fields, level) => logged.push({ msg, fields, level }) });
  t.equal(s.size, 10, 'records before the damage indexed');
  t.equal(s.orphanCount, 9, 'records after it held as orphans');
  t.match(s.openReport, { skippedBytes: spans[10]![1] - spans[10]![0], damagedRanges: 1, orphans: 9, truncatedBytes: 0 });
  t.match(logged, [{ level: 'error', msg: /DAMAGED/, fields: { ranges: [{ offset: spans[10]![0], length: spans[10]![1] - spans[10]![0], reason: /CRC/ }] } }, { msg: /orphans/ }]);
  t.same(
    s.heads().map((h) => toHex(s.idOf(h))),
    [toHex(chain[9]!.id)],
    'heads exclude the orphans, so the normal poll asks peers for everything after them',
  );
  const sizeBefore = statSync(s.file).size;
  // What a peer's poll answer delivers, in causal order.
  for (const c of chain.slice(10)) s.append(c);
  await s.sync();
  t.equal(s.size, 20);
  t.equal(s.orphanCount, 0);
  t.equal(statSync(s.file).size, sizeBefore + spans[10]![1] - spans[10]![0], 'only the lost record was written');
  for (let i = 0; i < 20; i++) if (toHex(s.bytesOf(s.indexOf(chain[i]!.id))) !== toHex(chain[i]!.bytes)) t.fail(`bytes of ${i}`);
  await s.close();
  const again = await DiskStore.open(dir, { durability: { mode: 'none' }, logger: quiet });
  t.equal(again.size, 20, 'reopen: children before their parent in the file are all indexed');
  t.equal(again.orphanCount, 0);
  t.same(again.heads().map((h) => toHex(again.idOf(h))), [toHex(chain[19]!.id)]);
  await again.close();
});

t.test('a v1 log is upgraded to v2 with a backup, damage in it quarantined', async (t) => {
  const cmds = randomDag(100, 3);
  for (const damaged of [false, true]) {
    const dir = tmp();
    const v1 = v1LogOf(cmds);
    if (damaged) v1[HEADER_BYTES + 50 * 8 + 3000]! ^= 0x80;
    writeFileSync(join(dir, LOG_FILE), v1);
    const logged: string[] = [];
    const s = await DiskStore.open(dir, { durability: { mode: 'none' }, logger: (m) => logged.push(m) });
    t.equal(s.openReport.upgradedFrom, 1);
    t.equal(s.size + s.orphanCount, damaged ? 99 : 100, damaged ? 'one record lost, every other kept' : 'every record kept');
    t.same(readFileSync(join(dir, LOG_FILE)).subarray(0, HEADER_BYTES), encodeHeader(), 'header now v2');
    const backups = readdirSync(dir).filter((f) => f.startsWith(`${LOG_FILE}.v1-backup-`));
    t.equal(backups.length, 1, 'v1 backup kept');
    t.same(readFileSync(join(dir, backups[0]!)), v1, 'backup is the v1 file byte for byte');
    t.equal(readdirSync(dir).some((f) => f.includes('.quarantine-')), damaged, 'quarantine only for damage');
    t.match(logged, [...(damaged ? [/DAMAGED/] : []), /upgraded/]);
    await s.close();
    const again = await DiskStore.open(dir, { durability: { mode: 'none' }, logger: quiet });
    t.equal(again.openReport.upgradedFrom, undefined, 'upgraded once');
    await again.close();
  }
});

t.test('header damage and unknown versions are StoreErrors with exit status 78; the file is untouched', async (t) => {
  const { log } = logOf(randomDag(5, 2));
  const cases: Array<[string, Buffer, string]> = [
    ['bad-header', Buffer.concat([log.subarray(0, 12), Buffer.from([0, 0, 0, 0]), log.subarray(16)]), 'bad-header'],
    ['version 3', Buffer.concat([encodeHeader(3), log.subarray(16)]), 'unsupported-version'],
    ['foreign file', Buffer.from('hello, I am somebody else\'s file'), 'not-a-log'],
  ];
  for (const [what, bytes, reason] of cases) {
    const dir = tmp();
    writeFileSync(join(dir, LOG_FILE), bytes);
    const err = await DiskStore.open(dir, { durability: { mode: 'none' } }).then(
      () => null,
      (e: unknown) => e,
    );
    t.ok(err instanceof StoreError, `${what}: StoreError`);
    t.match(err, { name: 'StoreError', reason, exitCode: 78 });
    t.same(readFileSync(join(dir, LOG_FILE)), bytes, `${what}: untouched`);
  }
  const file = join(tmp(), 'plain-file');
  writeFileSync(file, 'x');
  await t.rejects(DiskStore.open(join(file, 'data'), { durability: { mode: 'none' } }), { name: 'StoreError', reason: 'unwritable', exitCode: 78 });
});

// ---- real processes: the compiled CLI and the crash writer --------------------------------

const MAIN = fileURLToPath(new URL('../dist/agent/cli/main.js', import.meta.url));
const WRITER = fileURLToPath(new URL('../dist/testkit/crash-writer.js', import.meta.url));
const childEnv = { ...process.env, NODE_OPTIONS: '' };

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run the CLI; with `untilLine`, SIGTERM it once stdout+stderr shows that line (an agent started). */
function cli(args: string[], untilLine?: RegExp): Promise<Ran> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const seen = (): void => {
      if (untilLine !== undefined && untilLine.test(stdout + stderr)) child.kill('SIGTERM');
    };
    child.stdout.setEncoding('utf8').on('data', (s: string) => ((stdout += s), seen()));
    child.stderr.setEncoding('utf8').on('data', (s: string) => ((stderr += s), seen()));
    child.on('error', rej);
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      res({ code, signal, stdout, stderr });
    });
  });
}

t.test('`syncwire store check` never writes; `store salvage` rebuilds a log with a bad header', async (t) => {
  if (!existsSync(MAIN)) return t.fail(`${MAIN} is missing: run \`make build\` first`);
  const cmds = randomDag(60, 9);
  const { log, spans } = logOf(cmds);
  const dir = tmp();
  t.equal((await cli(['store', 'check', '-d', dir])).code, 66, 'no log: 66');
  writeFileSync(join(dir, LOG_FILE), log);
  const intact = await cli(['store', 'check', '-d', dir, '--json']);
  t.equal(intact.code, 0, 'intact: 0');
  t.match(JSON.parse(intact.stdout), { verdict: 'intact', records: 60, indexed: 60, orphans: 0, damaged: [] });
  const bad = Buffer.from(log);
  bad[13]! ^= 0xff; // header CRC
  bad[spans[30]![0] + 5]! ^= 0x01; // a length byte of record 30
  writeFileSync(join(dir, LOG_FILE), bad);
  // On a copy: a starting agent moves `commands.log` into scopes/legacy-v1/ before it opens it.
  const copy = tmp();
  writeFileSync(join(copy, LOG_FILE), bad);
  const refused = await cli(['agent', '-d', copy, '--status-socket', '']);
  t.equal(refused.code, 78, 'the agent refuses a legacy log with a bad header with 78');
  const check = await cli(['store', 'check', '-d', dir, '--json']);
  t.equal(check.code, 65, 'damaged: 65');
  const report = JSON.parse(check.stdout) as { header: string; records: number; damaged: Array<{ offset: number }> };
  t.match(report, { header: 'bad-header', records: 59 });
  t.same(report.damaged.map((d) => d.offset), [0, spans[30]![0]], 'damaged ranges: the header and record 30');
  t.same(readFileSync(join(dir, LOG_FILE)), bad, 'check modified nothing');
  t.same(readdirSync(dir).sort(), [LOG_FILE], 'check created nothing');
  const salvage = await cli(['store', 'salvage', '-d', dir]);
  t.equal(salvage.code, 0, `salvage: 0 (${salvage.stderr})`);
  t.match(salvage.stdout, /59 records kept/);
  const names = readdirSync(dir);
  const backup = names.find((n) => n.startsWith(`${LOG_FILE}.salvage-backup-`));
  t.ok(backup, 'original kept');
  t.same(readFileSync(join(dir, backup!)), bad, 'backup is the damaged original');
  t.ok(names.some((n) => /\.quarantine-.*\.json$/.test(n)), 'quarantine sidecar written');
  const after = await cli(['store', 'check', '-d', dir, '--json']);
  t.equal(after.code, 0, 'rebuilt log is intact');
  const s = await DiskStore.open(dir, { durability: { mode: 'none' }, logger: quiet });
  t.equal(s.size + s.orphanCount, 59, 'every valid record is in the rebuilt log');
  await s.close();
  const v3 = tmp();
  writeFileSync(join(v3, LOG_FILE), Buffer.concat([encodeHeader(3), log.subarray(16)]));
  t.equal((await cli(['store', 'check', '-d', v3])).code, 78, 'newer layout: check 78');
  t.equal((await cli(['store', 'salvage', '-d', v3])).code, 78, 'newer layout: salvage refuses with 78');
  t.equal((await cli(['agent', '-d', v3, '--status-socket', ''])).code, 78, 'newer layout: agent 78');
});

t.test('SIGKILL in the middle of a v1 → v2 upgrade never loses a record', async (t) => {
  if (!existsSync(WRITER)) return t.fail(`${WRITER} is missing: run \`make build\` first`);
  const cmds = randomDag(8_000, 5);
  const v1 = v1LogOf(cmds);
  let v1Left = 0;
  let upgraded = 0;
  for (let round = 0; round < 4; round++) {
    const dir = tmp();
    writeFileSync(join(dir, LOG_FILE), v1);
    await new Promise<void>((res) => {
      const child = spawn(process.execPath, [WRITER, dir, '1'], { env: childEnv, stdio: 'ignore' });
      // A sweep from early (before the rename) to late (after it, during the first appends).
      const timer = setTimeout(() => child.kill('SIGKILL'), 50 + round * 1000 + Math.floor(Math.random() * 100));
      child.on('close', () => (clearTimeout(timer), res()));
    });
    const head = readFileSync(join(dir, LOG_FILE)).subarray(0, HEADER_BYTES);
    if (head.equals(encodeHeader(1))) v1Left++;
    else upgraded++;
    const s = await DiskStore.open(dir, { durability: { mode: 'none' }, logger: quiet });
    const missing = cmds.filter((c) => s.indexOf(c.id) < 0).length;
    if (missing > 0) t.fail(`round ${round}: ${missing} records lost`);
    await s.close();
  }
  t.pass(`4 kills: ${v1Left} left the v1 log (upgrade redone on the next open), ${upgraded} after the rename; no record lost`);
});

t.test('damage in the middle and a torn tail at once: both repaired, both reported', async (t) => {
  const cmds = randomDag(30, 4);
  const { log, spans } = logOf(cmds);
  const { tornRecord } = await import('../agent/store/log-damage.js');
  const bytes = Buffer.concat([log, tornRecord(300, 40)]);
  bytes[spans[12]![0] + 20]! ^= 0x04;
  const dir = tmp();
  writeFileSync(join(dir, LOG_FILE), bytes);
  const logged: string[] = [];
  const s = await DiskStore.open(dir, { durability: { mode: 'none' }, logger: (m) => logged.push(m) });
  t.match(s.openReport, { truncatedBytes: 40, skippedBytes: spans[12]![1] - spans[12]![0], damagedRanges: 1 });
  t.equal(s.size + s.orphanCount, 29);
  t.match(logged, [/DAMAGED/, /torn tail/]);
  t.equal(statSync(s.file).size, log.length - (spans[12]![1] - spans[12]![0]), 'log holds exactly the good records');
  await s.close();
});

t.test('beside a running agent holding legacy/v1: `store check` reads and names the holder, `store salvage` is refused with 78', async (t) => {
  if (!existsSync(MAIN)) return t.fail(`${MAIN} is missing: run \`make build\` first`);
  const dir = tmp();
  t.equal((await cli(['keygen', '--out', join(dir, 'key.json')])).code, 0);
  // A legacy log the agent moves to legacy/v1 at start: there is something to check.
  writeFileSync(join(dir, LOG_FILE), logOf(randomDag(10, 1)).log);
  const agent = spawn(process.execPath, [MAIN, 'agent', '-d', dir, '--status-socket', ''], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  agent.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  agent.stderr.setEncoding('utf8').on('data', (s: string) => (out += s));
  const closed = new Promise((r) => agent.on('close', r));
  for (let i = 0; i < 600 && !out.includes('agent started'); i++) await new Promise((r) => setTimeout(r, 50));
  t.match(out, /agent started/);
  const check = await cli(['store', 'check', '-d', dir]);
  t.equal(check.code, 0, 'intact');
  t.match(check.stdout, new RegExp(`process ${agent.pid} \\(agent\\) holds this data directory`));
  const salvage = await cli(['store', 'salvage', '-d', dir]);
  t.equal(salvage.code, 78, 'salvage refused while the agent runs');
  t.match(salvage.stderr, /held by process/);
  agent.kill('SIGTERM');
  await closed;
});

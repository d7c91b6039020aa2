/**
 * The disk store beyond the store contract: reopening, repair of torn tails, damaged records and
 * orphans (quarantined, reported, the log rewritten), the file header, the data directory, group
 * commit and the durability modes, and where `bytesOf` reads from; then parsing durability specs.
 */
import t from 'tap';
import fc from 'fast-check';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from '../protocol/crc32.js';
import type { Command } from '../protocol/command.js';
import { toHex } from '../protocol/keys.js';
import { DiskStore, LOG_FILE, parseDurability, formatDurability } from '../agent/store/disk-store.js';
import { HEADER_BYTES, LOG_MAGIC, RECORD_HEAD_BYTES, recordHead } from '../agent/store/log-format.js';
import { checkStoreHolds } from '../testkit/suites/store-contract.js';
import { randomDag, syntheticCommand } from '../testkit/synthetic-commands.js';

const payload = (s: string): Uint8Array => new TextEncoder().encode(s);
const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'syncwire-store-'));
  dirs.push(d);
  return d;
};
t.teardown(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A closed disk store holding `cmds`; returns its directory and the log's bytes. */
async function written(cmds: Command[]): Promise<{ dir: string; log: Buffer }> {
  const dir = tmp();
  const s = await DiskStore.open(dir, { durability: { mode: 'none' } });
  for (const c of cmds) s.append(c);
  await s.close();
  return { dir, log: readFileSync(join(dir, LOG_FILE)) };
}

/** File offset of record `i` of `cmds`. */
const recordAt = (cmds: Command[], i: number) => HEADER_BYTES + cmds.slice(0, i).reduce((n, c) => n + RECORD_HEAD_BYTES + c.bytes.length, 0);

t.test('DiskStore reopen gives an identical index', async (t) => {
  const cmds = randomDag(3000, 7);
  const { dir } = await written(cmds);
  const s = await DiskStore.open(dir, { durability: { mode: 'always' }, cacheBytes: 0 });
  t.same(s.openReport, { commands: 3000, truncatedBytes: 0, skippedBytes: 0, damagedRanges: 0, orphans: 0 });
  checkStoreHolds(t, s, cmds);
  t.equal(s.stats().cacheHits, 0, 'cache disabled: every read hits the file');
  const next = syntheticCommand(s.heads().map((h) => s.idOf(h).slice()), 3000, payload('after reopen'));
  s.append(next);
  await s.sync();
  await s.close();
  const again = await DiskStore.open(dir, { durability: { mode: 'none' } });
  checkStoreHolds(t, again, [...cmds, next]);
  await again.close();
});

t.test('a torn tail is truncated, trailing garbage quarantined; both reported, and the store accepts appends', async (t) => {
  const cmds = randomDag(20, 3);
  const { log } = await written(cmds);
  const last = recordAt(cmds, 19);
  const tail = fc.oneof(
    fc.integer({ min: last + 1, max: log.length - 1 }).map((cut) => ({ cut, garbage: new Uint8Array(0) })),
    fc.uint8Array({ minLength: 1, maxLength: 100 }).map((garbage) => ({ cut: log.length, garbage })),
  );
  await fc.assert(
    fc.asyncProperty(tail, async ({ cut, garbage }) => {
      const dir = tmp();
      writeFileSync(join(dir, LOG_FILE), Buffer.concat([log.subarray(0, cut), garbage]));
      const logged: string[] = [];
      const s = await DiskStore.open(dir, { durability: { mode: 'always' }, logger: (m) => logged.push(m) });
      const keep = cut < log.length ? 19 : 20;
      const cutAt = cut < log.length ? last : log.length;
      // An incomplete last record is cut; bytes that are no record at all are damage (quarantined).
      const removed = s.openReport.truncatedBytes + s.openReport.skippedBytes;
      const ok = s.size === keep && removed === cut + garbage.length - cutAt && logged.length === 1 && (garbage.length === 0) === (s.openReport.skippedBytes === 0);
      s.append(syntheticCommand([s.idOf(s.size - 1).slice()], 99, payload('after repair')));
      await s.sync();
      await s.close();
      const again = await DiskStore.open(dir, { durability: { mode: 'none' } });
      const reopened = again.size === keep + 1 && again.openReport.truncatedBytes === 0 && again.openReport.skippedBytes === 0;
      await again.close();
      return ok && reopened;
    }),
    { numRuns: 40 },
  );
  t.pass('40 random torn tails repaired');
});

t.test('a corrupt record in the middle costs that record only: quarantined, the log rewritten without it', async (t) => {
  const cmds = randomDag(20, 5);
  const { dir, log } = await written(cmds);
  const at = recordAt(cmds, 10);
  const len = RECORD_HEAD_BYTES + cmds[10]!.bytes.length;
  log[at + RECORD_HEAD_BYTES + 3]! ^= 0x40;
  writeFileSync(join(dir, LOG_FILE), log);
  const logged: Array<{ msg: string; fields?: object; level?: string }> = [];
  const s = await DiskStore.open(dir, { durability: { mode: 'always' }, logger: (msg, fields, level) => logged.push({ msg, fields, level }) });
  t.match(s.openReport, { truncatedBytes: 0, skippedBytes: len, damagedRanges: 1 });
  t.equal(s.size + s.orphanCount, 19, 'every other record kept (indexed, or an orphan when it descends from the lost one)');
  t.match(logged[0], { level: 'error', msg: /DAMAGED/, fields: { ranges: [{ offset: at, length: len, reason: /CRC mismatch/ }] } });
  t.equal(statSync(join(dir, LOG_FILE)).size, log.length - len, 'log rewritten without the bad record');
  t.same(readFileSync(s.openReport.quarantine!), log.subarray(at, at + len), 'the damaged bytes are kept in the quarantine');
  const before = cmds.slice(0, 10).filter((c, i) => s.indexOf(c.id) === i && toHex(s.bytesOf(i)) === toHex(c.bytes));
  t.equal(before.length, 10, 'the records before it are intact, in order');
  const after = cmds.slice(11).filter((c) => s.indexOf(c.id) >= 0 && toHex(s.bytesOf(s.indexOf(c.id))) === toHex(c.bytes));
  t.equal(after.length, s.size - 10, 'the records after it that do not descend from it are indexed, intact');
  await s.close();
});

t.test('a record whose parent is missing is kept as an orphan; one that does not decode is quarantined', async (t) => {
  const cmds = randomDag(5, 11);
  const orphan = syntheticCommand([syntheticCommand([], 1, payload('never stored')).id], 2, payload('orphan'));
  const junk = payload('not cbor at all');
  const record = (b: Uint8Array) => Buffer.concat([recordHead(b), b]);
  {
    const { dir, log } = await written(cmds);
    appendFileSync(join(dir, LOG_FILE), record(orphan.bytes));
    const s = await DiskStore.open(dir, { durability: { mode: 'none' }, logger: () => {} });
    t.same(s.openReport, { commands: 5, truncatedBytes: 0, skippedBytes: 0, damagedRanges: 0, orphans: 1 });
    t.equal(statSync(join(dir, LOG_FILE)).size, log.length + RECORD_HEAD_BYTES + orphan.bytes.length, 'the orphan stays in the log');
    await s.close();
  }
  {
    const { dir, log } = await written(cmds);
    appendFileSync(join(dir, LOG_FILE), record(junk));
    const reasons: unknown[] = [];
    const s = await DiskStore.open(dir, { durability: { mode: 'none' }, logger: (_m, f) => reasons.push(f) });
    t.match(s.openReport, { commands: 5, truncatedBytes: 0, skippedBytes: RECORD_HEAD_BYTES + junk.length });
    t.match(reasons, [{ ranges: [{ reason: /undecodable/ }] }]);
    t.equal(statSync(join(dir, LOG_FILE)).size, log.length);
    await s.close();
  }
});

t.test('file header: wrong file refused, other version refused, torn header rewritten', async (t) => {
  const dir = tmp();
  writeFileSync(join(dir, LOG_FILE), 'hello, I am somebody else\'s file');
  await t.rejects(DiskStore.open(dir, { durability: { mode: 'none' } }), /not a syncwire command log/);
  t.equal(readFileSync(join(dir, LOG_FILE), 'utf8'), 'hello, I am somebody else\'s file', 'left untouched');
  const v2 = Buffer.alloc(16);
  LOG_MAGIC.copy(v2);
  v2.writeUInt32LE(3, 8);
  v2.writeUInt32LE(crc32(v2.subarray(0, 12)), 12);
  writeFileSync(join(dir, LOG_FILE), v2);
  await t.rejects(DiskStore.open(dir, { durability: { mode: 'none' } }), /version 3 is not supported/);
  writeFileSync(join(dir, LOG_FILE), LOG_MAGIC.subarray(0, 5));
  const s = await DiskStore.open(dir, { durability: { mode: 'none' } });
  t.match(s.openReport, { commands: 0, truncatedBytes: 5 });
  await s.close();
  t.equal(statSync(join(dir, LOG_FILE)).size, HEADER_BYTES);
});

t.test('directory: created private, refused when opened twice', async (t) => {
  const dir = join(tmp(), 'nested', 'store');
  const s = await DiskStore.open(dir, { durability: { mode: 'always' } });
  t.equal(statSync(dir).mode & 0o777, 0o700);
  t.equal(statSync(join(dir, LOG_FILE)).mode & 0o777, 0o600);
  await t.rejects(DiskStore.open(dir, { durability: { mode: 'none' } }), /already open/);
  await t.rejects(DiskStore.open(join(dir, '..', 'store'), { durability: { mode: 'none' } }), /already open/);
  await s.close();
  const again = await DiskStore.open(dir, { durability: { mode: 'none' } });
  await again.close();
  await t.rejects(again.sync(), /closed/);
  t.throws(() => again.bytesOf(0), /closed/);
});

t.test('group commit: concurrent callers share fsyncs', async (t) => {
  const s = await DiskStore.open(tmp(), { durability: { mode: 'always' } });
  const cmds = randomDag(400, 9);
  const burst = cmds.slice(0, 100).map((c) => (s.append(c), s.sync()));
  await Promise.all(burst);
  t.ok(s.stats().fsyncs <= 2, `100 commits before awaiting: ${s.stats().fsyncs} fsync(s)`);
  const before = s.stats().fsyncs;
  let next = 100;
  const committer = async () => {
    while (next < cmds.length) {
      s.append(cmds[next++]!);
      await s.sync();
    }
  };
  await Promise.all(Array.from({ length: 30 }, committer));
  const used = s.stats().fsyncs - before;
  t.ok(used < 100, `300 commits from 30 concurrent committers: ${used} fsyncs`);
  await s.close();
});

t.test('durability modes: batch fsyncs on a timer, none never until close', async (t) => {
  const cmds = randomDag(50, 13);
  const batch = await DiskStore.open(tmp(), { durability: { mode: 'batch', ms: 20 } });
  for (const c of cmds) batch.append(c);
  await batch.sync();
  t.equal(statSync(batch.file).size, recordAt(cmds, 50), 'sync() wrote everything');
  t.equal(batch.stats().fsyncs, 0, 'but did not wait for an fsync');
  await new Promise((r) => setTimeout(r, 80));
  t.equal(batch.stats().fsyncs, 1, 'the batch timer fsynced once');
  await batch.close();
  const none = await DiskStore.open(tmp(), { durability: { mode: 'none' } });
  for (const c of cmds) none.append(c);
  await none.sync();
  await new Promise((r) => setTimeout(r, 30));
  t.equal(none.stats().fsyncs, 0);
  await none.close();
  t.equal(none.stats().fsyncs, 1, 'close is a checkpoint');
});

t.test('bytesOf serves staged, written and cached records', async (t) => {
  const cmds = randomDag(30, 17);
  const s = await DiskStore.open(tmp(), { durability: { mode: 'always' }, cacheBytes: 0 });
  for (const c of cmds) s.append(c);
  t.equal(statSync(s.file).size, HEADER_BYTES, 'nothing written yet');
  t.equal(toHex(s.bytesOf(29)), toHex(cmds[29]!.bytes), 'from the stage');
  await s.sync();
  t.equal(toHex(s.bytesOf(29)), toHex(cmds[29]!.bytes), 'from the file');
  await s.close();
  const c = await DiskStore.open(tmp(), { durability: { mode: 'none' }, cacheBytes: 4096 });
  for (const x of cmds) c.append(x);
  await c.sync();
  for (let i = 29; i >= 0; i--) t.equal(toHex(c.bytesOf(i)), toHex(cmds[i]!.bytes));
  t.ok(c.stats().cacheHits > 0 && c.stats().cacheMisses > 0, 'a 4 KiB cache holds the newest, misses the oldest');
  await c.close();
});

t.test('parseDurability', async (t) => {
  t.same(parseDurability('always'), { mode: 'always' });
  t.same(parseDurability(' none '), { mode: 'none' });
  t.same(parseDurability('batch:250'), { mode: 'batch', ms: 250 });
  for (const bad of ['', 'sometimes', 'batch', 'batch:', 'batch:0', 'batch:-5', 'batch:1.5', 'batch:abc', 'ALWAYS', 'batch:99999999999999999999']) {
    let message = '';
    try {
      parseDurability(bad);
    } catch (err) {
      message = (err as Error).message;
    }
    t.ok(message.startsWith(`invalid durability ${JSON.stringify(bad)}: expected`), `rejects ${JSON.stringify(bad)}`);
  }
  t.equal(formatDurability(parseDurability('batch:7')), 'batch:7');
});

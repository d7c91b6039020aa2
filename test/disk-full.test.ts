/**
 * A full disk, for real: a 256 KiB tmpfs filled to the last byte. A commit whose record cannot be
 * written is refused with a typed error (exit 75 from the CLI), is not in the graph, is not pushed
 * to the attached peer, and leaves no partial record; the agent stays up and commits succeed once
 * space returns. Also: a data directory on a read-only mount exits 78.
 *
 * Needs root (to mount). Where mounting is impossible the tests skip with the reason, except as
 * root with `mount` present: then a failing mount fails the test (CI runs as root).
 * Build first: `npx tsc -p tsconfig.json`.
 */
import t, { type Test } from 'tap';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { generateIdentity } from '../protocol/keys.js';
import { DiskStore, LOG_FILE } from '../agent/store/disk-store.js';
import { StoreWriteError } from '../agent/store/write-error.js';
import { Engine } from '../agent/sync/engine.js';
import { canMount, CliHarness, mountTmpfs, statusUntil, unmount } from '../testkit/cli-proc.js';

const h = new CliHarness();
const mounts: string[] = [];
t.teardown(() => {
  for (const m of mounts) unmount(m); // lazy: detached at once, so the directory can go
  h.cleanup();
});

/** A fresh tmpfs of `size`, or null when this machine cannot mount (the test then skips). */
function tmpfs(t: Test, size: string, opts: string[] = []): string | null {
  const dir = h.tmp('swdf-');
  // mode=0700: the agent refuses a data directory others may write.
  const why = mountTmpfs(dir, size, ['mode=0700', ...opts]);
  if (why === null) {
    mounts.push(dir);
    return dir;
  }
  if (canMount()) t.fail(`running as root with mount available, but: ${why}`);
  else t.skip(`cannot mount a tmpfs here (${why}); run as root to test a full disk`, () => {});
  return null;
}

/** Fill the file system of `dir` to the last byte with `dir/filler`; returns its path. */
function fill(dir: string): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'a');
  try {
    for (const chunk of [4096, 512, 64, 8, 1]) {
      const buf = Buffer.alloc(chunk, 0x55);
      for (;;) {
        try {
          writeSync(fd, buf);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

/** An 800-byte payload starting with `marker` (a command is at most 1,024 bytes). */
const big = (marker: string): Uint8Array => new TextEncoder().encode(marker.padEnd(800, '.'));

/**
 * On a full file system a record may still land in the slack of the log's last page (bytes the
 * file already owns): commit until the first refusal. Returns the refusal and the ids of the
 * commits that fitted (at most a page's worth).
 */
async function commitUntilRefused(engine: Engine, marker: string): Promise<{ err: unknown; fitted: Uint8Array[] }> {
  const fitted: Uint8Array[] = [];
  for (let i = 0; i < 8; i++) {
    try {
      fitted.push(await engine.commit(big(`${marker}-fit-${i}`)));
    } catch (err) {
      return { err, fitted };
    }
  }
  throw new Error('8 commits of 800 bytes fitted on a full file system');
}

t.test('in process: a failed write leaves the graph, heads, seq and file as they were', async (t) => {
  const root = tmpfs(t, '256k');
  if (root === null) return;
  const dir = join(root, 'unit');
  const store = await DiskStore.open(dir, { durability: { mode: 'always' } });
  const engine = new Engine({ identity: generateIdentity(), store });
  const added: number[] = [];
  engine.on('commands', (hs) => added.push(...hs));
  await engine.commit(new TextEncoder().encode('before'));
  const filler = fill(root);
  const first = await commitUntilRefused(engine, 'slack');
  const size = store.size;
  const heads = store.heads();
  const fileBytes = statSync(join(dir, LOG_FILE)).size;
  const seen = added.length;
  for (const err of [first.err, ...(await Promise.all([0, 1, 2].map((i) => engine.commit(big(`FAILED-${i}`)).catch((e: unknown) => e))))]) {
    t.type(err, StoreWriteError, 'typed error');
    t.equal((err as StoreWriteError).reason, 'disk-full');
    t.equal((err as StoreWriteError).exitCode, 75);
  }
  t.equal(store.size, size, 'not in the graph');
  t.same(store.heads(), heads, 'heads unchanged');
  t.equal(added.length, seen, 'no commands event (nothing pushed)');
  t.equal(statSync(join(dir, LOG_FILE)).size, fileBytes, 'no partial record left in the log');
  rmSync(filler);
  const id = await engine.commit(new TextEncoder().encode('after'));
  const idx = store.indexOf(id);
  t.equal(store.authorOf(idx).seq, 2 + first.fitted.length, 'the refused commits did not use up seq numbers');
  t.same(store.parentsOf(idx), heads, 'built on the heads the refused commits saw');
  await engine.close();
  await store.close();
  const again = await DiskStore.open(dir, { durability: { mode: 'none' } });
  t.equal(again.size, 2 + first.fitted.length, 'reopened: exactly the acknowledged commits');
  t.equal(readFileSync(join(dir, LOG_FILE)).indexOf('FAILED-'), -1, 'no trace of the refused ones');
  t.equal(again.openReport.truncatedBytes, 0, 'and a clean log');
  await again.close();
});

t.test('agent on a full tmpfs with a peer attached: refused, not pushed, recovers', async (t) => {
  const root = tmpfs(t, '256k');
  if (root === null) return;
  const gw = join(root, 'g');
  const ag = h.tmp();
  mkdirSync(gw, { mode: 0o700 });
  const gk = await h.keygen(join(gw, 'key.json'));
  const ak = await h.keygen(join(ag, 'key.json'));
  const gSock = join(gw, 'status.sock');
  const aSock = join(ag, 'status.sock');
  const gateway = h.start(['gateway', '-d', gw, '--listen', 'tcp-listen://127.0.0.1:0', '--trust-key', ak.publicKey, '--durability', 'always', '--log-level', 'info']);
  const g0 = await statusUntil(gSock, (s) => s.transports[0]?.localPort > 0);
  const agent = h.start(['agent', '-d', ag, '--link', `tcp://127.0.0.1:${g0.transports[0].localPort as number}`, '--trust-key', gk.publicKey, '--log-level', 'info']);
  await statusUntil(gSock, (s) => s.peers.some((p: { id: string; subscriber: boolean }) => p.id === ak.peerId && p.subscriber));

  const first = await h.run(['commit', '-d', gw, '--text', 'before']);
  t.equal(first.code, 0, first.stderr);
  await statusUntil(aSock, (s) => s.commands === 1);

  const filler = fill(root);
  // Commit until refused (the first few may fit in the log's last page), then twice more.
  const refusedMarkers: string[] = [];
  let acked = 1;
  for (let i = 0; i < 12 && refusedMarkers.length < 3; i++) {
    const marker = `attempt-${process.pid}-${i}-`;
    const r = await h.run(['commit', '-d', gw, '--hex', Buffer.from(big(marker)).toString('hex')]);
    if (r.code === 0) {
      t.equal(refusedMarkers.length, 0, 'nothing fits once a commit was refused');
      acked++;
      continue;
    }
    t.equal(r.code, 75, 'a full disk: exit 75 (try again later)');
    t.match(r.stderr, /disk is full/);
    t.equal(r.stdout, '', 'no id printed: not acknowledged');
    refusedMarkers.push(marker);
  }
  t.equal(refusedMarkers.length, 3, 'refused on the full disk');
  const during = await statusUntil(gSock, () => true);
  t.equal(during.commands, acked, 'the agent stays up, and the refused commands are not in its graph');
  t.equal(gateway.child.exitCode, null, 'still running');

  rmSync(filler);
  const after = await h.run(['commit', '-d', gw, '--text', 'after']);
  t.equal(after.code, 0, after.stderr);
  await statusUntil(aSock, (s) => s.commands === acked + 1);
  await statusUntil(gSock, (s) => s.commands === acked + 1);

  const [ra, rg] = [await agent.stop(), await gateway.stop()];
  t.equal(ra.code, 0, 'peer stopped cleanly');
  t.equal(rg.code, 0, 'agent stopped cleanly');
  t.match(rg.stderr, /commit refused: command log write failed/, 'the agent said so');
  for (const [who, dir] of [['peer', ag], ['agent', gw]] as const) {
    const log = readFileSync(join(dir, LOG_FILE));
    t.same(refusedMarkers.filter((m) => log.indexOf(m) >= 0), [], `the ${who}'s log never held a refused command`);
  }
  const store = await DiskStore.open(gw, { durability: { mode: 'none' } });
  t.equal(store.size, acked + 1, 'reopened: the acknowledged commits');
  await store.close();
});

t.test('a data directory the agent cannot write exits 78', async (t) => {
  const key = join(h.tmp(), 'key.json');
  await h.keygen(key);
  let dir: string;
  if (canMount() || process.getuid?.() === 0) {
    const ro = tmpfs(t, '64k', ['ro']);
    if (ro === null) return;
    dir = ro;
  } else {
    // Not root: a directory without write permission does it (root would ignore the mode).
    dir = h.tmp();
    mkdirSync(join(dir, 'ro'), { mode: 0o500 });
    dir = join(dir, 'ro');
  }
  const agent = await h.run(['agent', '-d', dir, '--key', key, '--status-socket', '']);
  t.equal(agent.code, 78, agent.stderr);
  t.match(agent.stderr, /data directory .*: cannot write in it \((EROFS|EACCES)\)/);
  const sub = await h.run(['agent', '-d', join(dir, 'sub'), '--key', key, '--status-socket', '']);
  t.equal(sub.code, 78, 'nor create it');
  t.match(sub.stderr, /cannot create it/);
  const commit = await h.run(['commit', '-d', dir, '--key', key, '--text', 'x']);
  t.equal(commit.code, 78, commit.stderr);
  t.notOk(existsSync(join(dir, LOG_FILE)));
});

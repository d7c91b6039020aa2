/**
 * A full disk, for real: a 256 KiB tmpfs filled to the last byte, under a protocol-2 node (the
 * default). A commit whose record cannot be written to its scope's segment is refused with a
 * typed error (exit 75 from the CLI), is not in the scope, is not pushed to the attached peer,
 * and leaves no partial record; the agent stays up and commits succeed once space returns.
 * Also: a data directory on a read-only mount exits 78.
 *
 * Needs root (to mount). Where mounting is impossible the tests skip with the reason, except as
 * root with `mount` present: then a failing mount fails the test (CI runs as root).
 * Build first: `npx tsc -p tsconfig.json`.
 */
import t, { type Test } from 'tap';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { generateIdentity, toHex, type Identity } from '../protocol/keys.js';
import { Role } from '../protocol/constants-v2.js';
import { SCOPES_DIR } from '../agent/store/scope-dir.js';
import { SEGMENT_PATTERN } from '../agent/store/segment-log.js';
import { StoreWriteError } from '../agent/store/write-error.js';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import { attachTransport } from '../agent/node/attach-transport.js';
import { loadKeyFile } from '../agent/cli/keys.js';
import { canMount, CliHarness, mountTmpfs, statusUntil, unmount } from '../testkit/cli-proc.js';
import { until } from '../testkit/wait.js';
import { FAST_V2, idsIn } from './engine-v2-kit.js';

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

const SCOPE = 'site/log';

/** Every segment file under `<dataDir>/scopes/`, concatenated (what is on disk of every scope). */
function segmentBytes(dataDir: string): Buffer {
  const root = join(dataDir, SCOPES_DIR);
  const parts: Buffer[] = [];
  if (!existsSync(root)) return Buffer.alloc(0);
  for (const d of readdirSync(root)) for (const f of readdirSync(join(root, d))) if (SEGMENT_PATTERN.test(f)) parts.push(readFileSync(join(root, d, f)));
  return Buffer.concat(parts);
}

/**
 * On a full file system a record may still land in the slack of the segment's last page (bytes
 * the file already owns): commit until the first refusal. Returns the refusal and the ids of the
 * commits that fitted (at most a page's worth).
 */
async function commitUntilRefused(engine: EngineV2, marker: string): Promise<{ err: unknown; fitted: Uint8Array[] }> {
  const fitted: Uint8Array[] = [];
  for (let i = 0; i < 8; i++) {
    try {
      fitted.push(await engine.commit(SCOPE, big(`${marker}-fit-${i}`)));
    } catch (err) {
      return { err, fitted };
    }
  }
  throw new Error('8 commits of 800 bytes fitted on a full file system');
}

const openEngine = (identity: Identity, dataDir: string): Promise<EngineV2> => EngineV2.open({ identity, dataDir, durability: { mode: 'always' } });

t.test('in process: a failed write leaves the scope, heads, seq and segment as they were', async (t) => {
  const root = tmpfs(t, '256k');
  if (root === null) return;
  const dir = join(root, 'unit');
  const identity = generateIdentity();
  const engine = await openEngine(identity, dir);
  const host = await engine.createScope({ name: SCOPE, members: [{ publicKey: identity.publicKey, roles: Role.Read | Role.Write | Role.Admin }] });
  const store = host.store;
  const added: string[] = [];
  engine.on('appended', (e) => added.push(toHex(e.id)));
  await engine.commit(SCOPE, new TextEncoder().encode('before'));
  const filler = fill(root);
  const first = await commitUntilRefused(engine, 'slack');
  const size = store.size;
  const heads = store.heads();
  const onDisk = segmentBytes(dir).length;
  const seen = added.length;
  for (const err of [first.err, ...(await Promise.all([0, 1, 2].map((i) => engine.commit(SCOPE, big(`FAILED-${i}`)).catch((e: unknown) => e))))]) {
    t.type(err, StoreWriteError, 'typed error');
    t.equal((err as StoreWriteError).reason, 'disk-full');
    t.equal((err as StoreWriteError).exitCode, 75);
  }
  t.equal(store.size, size, 'not in the scope');
  t.same(store.heads(), heads, 'heads unchanged');
  t.equal(added.length, seen, 'no appended event (nothing pushed)');
  t.equal(segmentBytes(dir).length, onDisk, 'no partial record left in the segment');
  rmSync(filler);
  const id = await engine.commit(SCOPE, new TextEncoder().encode('after'));
  const idx = store.indexOf(id);
  t.equal(store.authorOf(idx).seq, 2 + first.fitted.length, 'the refused commits did not use up seq numbers');
  t.same(store.parentsOf(idx), heads, 'built on the heads the refused commits saw');
  const acked = idsIn(engine, SCOPE);
  await engine.close();
  const again = await openEngine(identity, dir);
  t.same(idsIn(again, SCOPE), acked, 'reopened: exactly the acknowledged commits (and the genesis)');
  t.equal(acked.length, 1 + 2 + first.fitted.length);
  t.equal(segmentBytes(dir).indexOf('FAILED-'), -1, 'no trace of the refused ones');
  const reopened = again.scope(SCOPE)!.store as { openReport?: { truncatedBytes: number } };
  t.equal(reopened.openReport?.truncatedBytes, 0, 'and a clean segment');
  await again.close();
});

t.test('gateway on a full tmpfs with a peer attached: refused, not pushed, recovers', async (t) => {
  const root = tmpfs(t, '256k');
  if (root === null) return;
  const gw = join(root, 'g');
  mkdirSync(gw, { mode: 0o700 });
  const gk = await h.keygen(join(gw, 'key.json'));
  const gSock = join(gw, 'status.sock');
  // The peer runs in this process (one spawn less): a device of the gateway, holding its device scope.
  const peerId = generateIdentity();
  const gateway = h.start(['gateway', '-d', gw, '--listen', 'tcp-listen://127.0.0.1:0', '--trust-key', toHex(peerId.publicKey), '--durability', 'always', '--log-level', 'info']);
  const g0 = await statusUntil(gSock, (s) => s.transports[0]?.localPort > 0);
  const peer = await EngineV2.open({ identity: peerId, trust: { mode: 'list', keys: [loadKeyFile(join(gw, 'key.json')).publicKey] }, tuning: FAST_V2 });
  const link = await attachTransport(`tcp://127.0.0.1:${g0.transports[0].localPort as number}`, peer, { reconnectBaseMs: 50, reconnectMaxMs: 500 });
  t.teardown(async () => {
    await link.close();
    await peer.close();
  });
  const ds = `device/${peerId.peerId}`;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- snapshots are read loosely in tests
  const gwCommands = (s: Record<string, any>): number => (s.scopes as Array<{ name: string; commands: number }>).find((x) => x.name === ds)?.commands ?? -1;
  await statusUntil(gSock, (s) => s.peers.some((p: { id: string; scopes: Array<{ name: string; peerSubscribed: boolean }> }) => p.id === peerId.peerId && p.scopes.some((x) => x.name === ds && x.peerSubscribed)));

  const commit = (args: string[]) => h.run(['commit', '-d', gw, '--scope', ds, ...args]);
  const first = await commit(['--text', 'before']);
  t.equal(first.code, 0, first.stderr);
  const firstId = first.stdout.trim();
  await until(() => idsIn(peer, ds).includes(firstId), 30_000, 'the peer got the first commit');

  const filler = fill(root);
  // Commit until refused (the first few may fit in the segment's last page), then twice more.
  const refusedMarkers: string[] = [];
  const acked = [firstId];
  for (let i = 0; i < 12 && refusedMarkers.length < 3; i++) {
    const marker = `attempt-${process.pid}-${i}-`;
    const r = await commit(['--hex', Buffer.from(big(marker)).toString('hex')]);
    if (r.code === 0) {
      t.equal(refusedMarkers.length, 0, 'nothing fits once a commit was refused');
      acked.push(r.stdout.trim());
      continue;
    }
    t.equal(r.code, 75, 'a full disk: exit 75 (try again later)');
    t.match(r.stderr, /disk is full/);
    t.equal(r.stdout, '', 'no id printed: not acknowledged');
    refusedMarkers.push(marker);
  }
  t.equal(refusedMarkers.length, 3, 'refused on the full disk');
  const during = await statusUntil(gSock, () => true);
  t.equal(gwCommands(during), 1 + acked.length, 'the gateway stays up, and the refused commands are not in its scope');
  t.equal(gateway.child.exitCode, null, 'still running');

  rmSync(filler);
  const after = await commit(['--text', 'after']);
  t.equal(after.code, 0, after.stderr);
  acked.push(after.stdout.trim());
  await until(() => acked.every((id) => idsIn(peer, ds).includes(id)), 30_000, 'the peer holds every acknowledged commit');
  await statusUntil(gSock, (s) => gwCommands(s) === 1 + acked.length);

  const rg = await gateway.stop();
  t.equal(rg.code, 0, 'gateway stopped cleanly');
  t.match(rg.stderr, /commit refused: scope store write failed.*disk-full|disk-full.*commit refused: scope store write failed/, 'the gateway said so');
  const peerHas = new Set(idsIn(peer, ds));
  const scope = peer.scope(ds)!;
  const peerPayloads: string[] = [];
  for (let i = 0; i < scope.store.size; i++) if (scope.store.isRetained(i)) peerPayloads.push(Buffer.from(scope.store.bytesOf(i)).toString('latin1'));
  t.same(refusedMarkers.filter((m) => peerPayloads.some((p) => p.includes(m))), [], 'the peer never held a refused command');
  t.same(refusedMarkers.filter((m) => segmentBytes(gw).indexOf(m) >= 0), [], "the gateway's segments never held a refused command");
  t.equal(peerHas.size, 1 + acked.length, 'the peer holds the genesis and exactly the acknowledged commits');
  const reopened = await openEngine(loadKeyFile(join(gw, 'key.json')), gw);
  t.same(idsIn(reopened, ds).filter((id) => acked.includes(id)).length, acked.length, 'reopened: the acknowledged commits');
  t.equal(idsIn(reopened, ds).length, 1 + acked.length, 'and nothing else');
  await reopened.close();
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
  t.notOk(existsSync(join(dir, SCOPES_DIR)), 'no scope directory made');
});

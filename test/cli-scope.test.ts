/**
 * The CLI's protocol 2 surfaces against a FAKE API (node:http on a temp unix socket answering
 * canned JSON / NDJSON; no agent): `commit --scope` and `tail --scope` send `scope` as a query
 * parameter (and nothing without it), the agent's "scope required" is a usage error (exit 2),
 * an unknown scope (404 not_found) exit 1; `tail` prints gap lines (`-- gap in ...`, as received
 * with --json, on stderr with --exec) without moving its cursor; `scope list` prints the table
 * (and --json), a protocol 1 agent's refusal exits 1; `status` shows `scopes:` for a v2
 * snapshot; the new flags are in --help. And without an agent, on real data directories: the
 * offline commit into a scope (named, scopes.default, the only one; a v1 commands.log moved to
 * legacy/v1 first; unknown_scope / scope_required / read_only as the agent answers them), and
 * `store check|salvage` per scope (a damaged segment record: 65, salvaged, 0, the agent opens
 * it again). Runs the compiled CLI (build first).
 */
import t from 'tap';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliHarness } from '../testkit/cli-proc.js';
import { formatGap, parseGapLine } from '../agent/cli/scope-lines.js';
import { commitPath } from '../agent/cli/commit-agent.js';
import { DiskStore } from '../agent/store/disk-store.js';
import { toHex } from '../protocol/keys.js';
import { randomDag } from '../testkit/synthetic-commands.js';

const h = new CliHarness();
t.teardown(() => h.cleanup());

const ID1 = '1'.repeat(64);
const ID2 = 'f'.repeat(64);
const SCOPE_ID = 'ab'.repeat(32);

interface Seen {
  method: string;
  path: string;
  query: Record<string, string>;
  body: string;
}

/** What the fake answers: status, JSON body (or NDJSON lines for a stream). */
type Answer = { status: number; json?: unknown; lines?: string[] };

/** A fake agent API on a fresh unix socket; `answer` picks the answer per request. */
async function fakeApi(answer: (s: Seen) => Answer): Promise<{ socket: string; seen: Seen[] }> {
  const socket = join(h.tmp('swsc-'), 'api.sock');
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://x');
      const s: Seen = { method: req.method ?? '', path: u.pathname, query: Object.fromEntries(u.searchParams), body: Buffer.concat(chunks).toString('utf8') };
      seen.push(s);
      const a = answer(s);
      if (a.lines !== undefined) {
        res.writeHead(a.status, { 'content-type': 'application/x-ndjson' });
        return res.end(a.lines.map((l) => l + '\n').join(''));
      }
      res.writeHead(a.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(a.json ?? {}));
    });
  });
  await new Promise<void>((r) => server.listen(socket, r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { socket, seen };
}

const refusal = (status: number, reason: string, message: string): Answer => ({ status, json: { error: { reason, message } } });

/** An agent whose commits answer per scope: fleet/acme ok, nope 404, none given 400 "scope required". */
function commitAgent(s: Seen): Answer {
  if (s.path === '/v1/status') return { status: 200, json: { peerId: '34750f98bd59fcfc' } };
  if (s.method === 'POST' && s.path === '/v1/commands') {
    const scope = s.query.scope;
    if (scope === undefined) return refusal(400, 'bad_request', 'scope required');
    if (scope === 'nope') return refusal(404, 'not_found', 'no scope "nope"');
    if (scope === 'legacy/v1') return refusal(409, 'read_only', 'legacy/v1 is read-only');
    const id = s.body.includes('two') ? ID2 : ID1;
    return { status: 201, json: { id, cursor: `1-${id.slice(0, 16)}`, scope } };
  }
  return refusal(404, 'not_found', 'no route');
}

t.test('commit --scope sends the scope as a query parameter', async (t) => {
  const { socket, seen } = await fakeApi(commitAgent);
  const one = await h.run(['commit', '--socket', socket, '--scope', 'fleet/acme', '--text', 'one']);
  t.equal(one.code, 0, one.stderr);
  t.equal(one.stdout, `${ID1}\n`);
  const post = seen.find((s) => s.method === 'POST')!;
  t.same(post.query, { scope: 'fleet/acme' });
  t.equal(post.body, 'one');

  seen.length = 0;
  const lines = await h.run(['commit', '--socket', socket, '--scope', SCOPE_ID, '--stdin'], 30000, { input: 'one\ntwo\n' });
  t.equal(lines.code, 0, lines.stderr);
  t.equal(lines.stdout, `${ID1}\n${ID2}\n`, 'one id per line, in order');
  t.same(seen.filter((s) => s.method === 'POST').map((s) => s.query.scope), [SCOPE_ID, SCOPE_ID], 'a 64-hex id passes as is');

  const unknown = await h.run(['commit', '--socket', socket, '--scope', 'nope', '--text', 'x']);
  t.equal(unknown.code, 1, 'unknown scope: exit 1 (no "not found" status in the exit table)');
  t.match(unknown.stderr, 'not_found: no scope "nope"');
  const legacy = await h.run(['commit', '--socket', socket, '--scope', 'legacy/v1', '--text', 'x']);
  t.equal(legacy.code, 1);
  t.match(legacy.stderr, 'read_only');

  seen.length = 0;
  const none = await h.run(['commit', '--socket', socket, '--text', 'x']);
  t.equal(none.code, 2, '"scope required" is a usage error');
  t.match(none.stderr, 'scope required (give --scope NAME, or set scopes.default');
  t.equal(seen.find((s) => s.method === 'POST')!.query.scope, undefined, 'no --scope: no scope parameter');
  const stdinNone = await h.run(['commit', '--socket', socket, '--stdin'], 30000, { input: 'a\n' });
  t.equal(stdinNone.code, 2);
  t.match(stdinNone.stderr, 'line 1 failed, 0 commands committed before it');

  const empty = await h.run(['commit', '--socket', socket, '--scope', '', '--text', 'x']);
  t.equal(empty.code, 2);
  t.match(empty.stderr, '--scope: give a scope name');
});

t.test('offline commit: into the scope named, scopes.default or the only one; a v1 log migrated; protocol 1 refused', async (t) => {
  const { writeFileSync, existsSync, readdirSync } = await import('node:fs');
  const d = h.tmp('swsco-');
  await h.keygen(join(d, 'key.json'));
  const none = join(d, 'none.sock');
  // A data directory an earlier release left: a v1 commands.log, which the next commit moves to legacy/v1.
  const [v1] = randomDag(1, 5);
  const v1Store = await DiskStore.open(d, { durability: { mode: 'none' } });
  v1Store.append(v1!);
  await v1Store.close();
  const p1 = join(d, 'p1.json');
  writeFileSync(p1, JSON.stringify({ protocol: 1, dataDir: d, statusSocket: none }));
  const p1Commit = await h.run(['commit', '--config', p1, '--text', 'v1']);
  t.equal(p1Commit.code, 78, 'a config asking for protocol 1 is a config error');
  t.match(p1Commit.stderr, 'protocol 1 was removed in 0.2.0');
  t.ok(existsSync(join(d, 'commands.log')), 'nothing touched the v1 log');

  const unknown = await h.run(['commit', '--data-dir', d, '--socket', none, '--scope', 'fleet/acme', '--text', 'x']);
  t.equal(unknown.code, 1, 'a scope not held: exit 1');
  t.match(unknown.stderr, 'unknown_scope: no scope "fleet/acme" is held');
  t.notOk(existsSync(join(d, 'commands.log')), 'the v1 log was moved on the way');
  t.ok(existsSync(join(d, 'scopes', 'legacy-v1', 'commands.log')), '... into scopes/legacy-v1');
  const required = await h.run(['commit', '--data-dir', d, '--socket', none, '--text', 'x']);
  t.equal(required.code, 2, 'no scope but legacy/v1, no default: a usage error');
  t.match(required.stderr, 'scope required');
  const legacy = await h.run(['commit', '--data-dir', d, '--socket', none, '--scope', 'legacy/v1', '--text', 'x']);
  t.equal(legacy.code, 1);
  t.match(legacy.stderr, 'read_only');

  // scopes.create is made as an agent makes it at start, and scopes.default names it.
  const cfg = join(d, 'c.json');
  writeFileSync(cfg, JSON.stringify({ dataDir: d, statusSocket: none, scopes: { default: 'fleet/acme', create: [{ name: 'fleet/acme', members: [{ key: 'self', roles: 'rwa' }] }] } }));
  const one = await h.run(['commit', '--config', cfg, '--text', 'one']);
  t.equal(one.code, 0, one.stderr);
  t.match(one.stdout, /^[0-9a-f]{64}\n$/);
  const lines = await h.run(['commit', '--config', cfg, '--stdin'], 30000, { input: 'two\nthree\n' });
  t.equal(lines.code, 0, lines.stderr);
  t.equal(lines.stdout.split('\n').filter(Boolean).length, 2, 'one id per line');
  const tooBig = await h.run(['commit', '--config', cfg, '--stdin'], 30000, { input: `four\n${'y'.repeat(2000)}\n` });
  t.not(tooBig.code, 0, 'an oversized line fails');
  t.match(tooBig.stderr, 'line 2 failed, 1 command committed before it');
  const scopeDirs = readdirSync(join(d, 'scopes')).filter((n) => /^[0-9a-f]{64}$/.test(n));
  t.equal(scopeDirs.length, 1, 'one scope created, once');

  // What an agent on the directory then serves: the commits in order, after the genesis.
  const a = await h.agent(d, ['--config', cfg, '--status-socket', join(d, 'status.sock')]);
  const { commandIds } = await import('../testkit/cli-proc.js');
  const ids = await commandIds(a.socket);
  t.same(ids, [one.stdout.trim(), ...lines.stdout.split('\n').filter(Boolean), tooBig.stdout.trim()], 'every offline commit, in order');
  t.same(await commandIds(a.socket, 'legacy/v1'), [toHex(v1!.id)], 'the v1 command is in legacy/v1');
  t.equal((await a.stop()).code, 0);
});

t.test('store check and salvage on a protocol 2 data directory, scope by scope', async (t) => {
  const { writeFileSync, readFileSync: read, readdirSync } = await import('node:fs');
  const d = h.tmp('swsst-');
  await h.keygen(join(d, 'key.json'));
  const cfg = join(d, 'c.json');
  writeFileSync(cfg, JSON.stringify({ dataDir: d, statusSocket: '', durability: 'none', scopes: { default: 'fleet/acme', create: [{ name: 'fleet/acme', retention: {}, members: [{ key: 'self', roles: 'rwa' }] }] } }));
  const fill = await h.run(['commit', '--config', cfg, '--stdin'], 30000, { input: Array.from({ length: 20 }, (_, i) => `${i}`.padStart(3, '0') + 'x'.repeat(300)).join('\n') });
  t.equal(fill.code, 0, fill.stderr);
  const id = readdirSync(join(d, 'scopes')).find((n) => /^[0-9a-f]{64}$/.test(n))!;
  const check = async (...extra: string[]): Promise<{ code: number | null; json: any }> => {
    const r = await h.run(['store', 'check', '-d', d, '--json', ...extra]);
    return { code: r.code, json: r.stdout === '' ? null : JSON.parse(r.stdout) };
  };
  const intact = await check();
  t.equal(intact.code, 0, 'intact: 0');
  t.match(intact.json, { verdict: 'intact', scopes: [{ id, name: 'fleet/acme', verdict: 'intact', commands: 21, horizon: { state: 'absent' } }], legacy: null, log: null });
  const human = await h.run(['store', 'check', '-d', d]);
  t.match(human.stdout, `scope fleet/acme ${id}: intact`);

  // One byte flipped in the 10th command's record: that record is damaged, the others intact.
  const seg = join(d, 'scopes', id, 'seg-00000000000000000000.log');
  const bytes = read(seg);
  const at = bytes.indexOf(Buffer.from('009' + 'x'.repeat(10)));
  bytes[at + 20] = bytes[at + 20]! ^ 0xff;
  writeFileSync(seg, bytes);
  const damaged = await check();
  t.equal(damaged.code, 65, 'damaged: 65');
  t.equal(damaged.json.scopes[0].files[1].damaged.length, 1, 'one damaged range in the segment');
  t.equal(damaged.json.scopes[0].commands, 20);
  t.equal((await check('--scope', 'fleet/nope')).code, 66, 'a scope not there: 66');
  t.equal((await check('--scope', id)).code, 65, 'by id');
  const refused = await h.run(['agent', '--config', cfg, '--log-level', 'fatal']);
  t.equal(refused.code, 78, 'the agent refuses the damaged scope');

  const salvage = await h.run(['store', 'salvage', '-d', d, '--scope', 'fleet/acme']);
  t.equal(salvage.code, 0, salvage.stderr);
  t.match(salvage.stdout, /rebuilt .*seg-00000000000000000000\.log: 20 records kept/);
  t.match(salvage.stdout, /quarantined in .*seg-00000000000000000000\.log\.quarantine-/);
  const after = await check();
  t.equal(after.code, 0, 'intact after salvage');
  t.equal(after.json.scopes[0].commands, 20, 'every valid record kept');
  const again = await h.run(['store', 'salvage', '-d', d]);
  t.equal(again.code, 0);
  t.match(again.stdout, 'nothing to salvage');
  // The agent opens it again and takes commits (the lost command comes back from peers, if any hold it).
  const a = await h.agent(d, ['--config', cfg, '--status-socket', join(d, 'status.sock')]);
  const { commandIds, postCommand } = await import('../testkit/cli-proc.js');
  t.equal((await commandIds(a.socket)).length, 19, 'the 19 valid data commands');
  await postCommand(a.socket, 'after salvage');
  t.equal((await a.stop()).code, 0);
});

const cmdLine = (n: number, id: string): string =>
  JSON.stringify({ cursor: `${n}-${id.slice(0, 16)}`, scope: 'device/34750f98bd59fcfc', kind: 'data', id, author: '34750f98bd59fcfc', seq: n, parents: [], payload: Buffer.from(`p${n}`).toString('base64') });
const GAP_PRUNED = JSON.stringify({ gap: { scope: 'device/34750f98bd59fcfc', reason: 'pruned', after: '17-0011223344556677', before: `400-${ID2.slice(0, 16)}` } });
const GAP_HORIZON = JSON.stringify({ gap: { scope: 'device/34750f98bd59fcfc', reason: 'horizon', before: `2-${ID2.slice(0, 16)}`, horizon: [{ id: ID1, depth: 5 }, { id: ID2, depth: 6 }] } });

function streamAgent(s: Seen): Answer {
  if (s.path === '/v1/commands') {
    if (s.query.scope === 'nope') return refusal(404, 'not_found', 'no scope "nope"');
    if (s.query.scope === undefined) return refusal(400, 'bad_request', 'scope required');
    return { status: 200, lines: [GAP_PRUNED, cmdLine(1, ID1), GAP_HORIZON, cmdLine(2, ID2)] };
  }
  return refusal(404, 'not_found', 'no route');
}

t.test('tail --scope: the query, gap lines in text, --json and --exec', async (t) => {
  const { socket, seen } = await fakeApi(streamAgent);
  const text = await h.run(['tail', '--socket', socket, '--scope', 'device/34750f98bd59fcfc', '--after', '17-0011223344556677']);
  t.equal(text.code, 0, text.stderr);
  t.same(seen[0]!.query, { scope: 'device/34750f98bd59fcfc', after: '17-0011223344556677' });
  const out = text.stdout.split('\n').filter((l) => l !== '');
  t.equal(out.length, 4);
  t.equal(out[0], `-- gap in device/34750f98bd59fcfc: pruned after 17-0011223344556677 before 400-${ID2.slice(0, 16)}`);
  t.match(out[1], new RegExp(`^1-${ID1.slice(0, 16)}  ${ID1.slice(0, 12)}  34750f98bd59fcfc  1  p1$`));
  t.equal(out[2], `-- gap in device/34750f98bd59fcfc: horizon before 2-${ID2.slice(0, 16)} (2 horizon records)`);
  t.match(out[3], /^2-f{16}  /);

  const json = await h.run(['tail', '--socket', socket, '--scope', 'fleet/acme', '--json']);
  t.equal(json.code, 0, json.stderr);
  t.same(json.stdout.split('\n').filter((l) => l !== ''), [GAP_PRUNED, cmdLine(1, ID1), GAP_HORIZON, cmdLine(2, ID2)], 'every line as received');

  const d = h.tmp('swsce-');
  const cursorFile = join(d, 'cursor');
  const exec = await h.run(['tail', '--socket', socket, '--scope', 'fleet/acme', '--exec', 'cat >/dev/null; echo "ran $SYNCWIRE_SEQ"', '--cursor-file', cursorFile]);
  t.equal(exec.code, 0, exec.stderr);
  t.equal(exec.stdout, 'ran 1\nran 2\n', 'CMD runs for commands only');
  t.match(exec.stderr, 'syncwire tail: gap in device/34750f98bd59fcfc: pruned');
  t.match(exec.stderr, 'gap in device/34750f98bd59fcfc: horizon');
  t.equal(readFileSync(cursorFile, 'utf8').trim(), `2-${ID2.slice(0, 16)}`, 'the cursor is the last command, never a gap');

  const unknown = await h.run(['tail', '--socket', socket, '--scope', 'nope']);
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, 'not_found');
  const none = await h.run(['tail', '--socket', socket]);
  t.equal(none.code, 2, '"scope required" is a usage error');
  t.equal(seen.at(-1)!.query.scope, undefined, 'no --scope: no scope parameter');
});

const SCOPES = {
  scopes: [
    { name: 'legacy/v1', id: 'c'.repeat(64), roles: null, commands: 12, retained: 12, base: 0, horizon: 0, joining: false, readOnly: true },
    { name: 'device/34750f98bd59fcfc', id: SCOPE_ID, roles: 'rw', commands: 1500, retained: 1024, base: 476, horizon: 1, joining: false, readOnly: false },
    { name: 'fleet/acme', id: 'd'.repeat(64), roles: '', commands: 0, retained: 0, base: 0, horizon: 0, joining: true, readOnly: false },
  ],
};

t.test('scope list: table, --json, a protocol 1 agent, usage', async (t) => {
  const { socket, seen } = await fakeApi((s) => (s.path === '/v1/scopes' ? { status: 200, json: SCOPES } : refusal(404, 'not_found', 'no route')));
  const table = await h.run(['scope', 'list', '--socket', socket]);
  t.equal(table.code, 0, table.stderr);
  t.equal(seen[0]!.method, 'GET');
  t.equal(seen[0]!.path, '/v1/scopes');
  t.same(table.stdout.split('\n'), [
    'NAME                     ID                COMMANDS  JOINING',
    'legacy/v1                cccccccccccccccc  12        no',
    `device/34750f98bd59fcfc  ${SCOPE_ID.slice(0, 16)}  1500      no`,
    'fleet/acme               dddddddddddddddd  0         yes',
    '',
  ]);
  const json = await h.run(['scope', 'list', '--socket', socket, '--json']);
  t.equal(json.code, 0);
  t.same(JSON.parse(json.stdout), SCOPES, 'the answer as is');

  const v1 = await fakeApi(() => refusal(400, 'bad_request', 'this agent runs protocol 1: no scopes'));
  const old = await h.run(['scope', 'list', '--socket', v1.socket]);
  t.equal(old.code, 1);
  t.match(old.stderr, 'syncwire scope: unix:');
  t.match(old.stderr, 'bad_request: this agent runs protocol 1: no scopes');
  const gone = await h.run(['scope', 'list', '--socket', join(h.tmp(), 'none.sock')]);
  t.equal(gone.code, 1);
  t.match(gone.stderr, 'no agent is running there');

  const [noSub, badSub, extra] = await Promise.all([h.run(['scope']), h.run(['scope', 'drop']), h.run(['scope', 'list', 'x'])]);
  t.equal(noSub!.code, 2);
  t.match(noSub!.stderr, 'expected a subcommand: scope list');
  t.equal(badSub!.code, 2);
  t.match(badSub!.stderr, 'unknown subcommand "drop"');
  t.equal(extra!.code, 2);
});

t.test('status: a protocol 2 snapshot gets a scopes: section', async (t) => {
  const snapshot = {
    protocol: 2, peerId: '34750f98bd59fcfc', role: 'agent', pid: 42, uptimeS: 7, dataDir: '/d', durability: 'always', version: '0', rssBytes: 1,
    lastError: null, commands: 1512, ...SCOPES, scopeJoinsRejected: 0,
    peers: [{ id: '5b923db411e11ee0', link: 'tcp:1', authenticated: true, sealed: true, framesIn: 3, framesOut: 4, bytesIn: 100, bytesOut: 200, unknownScope: 0 }],
    transports: [{ url: 'tcp://127.0.0.1:1', localPort: null, links: ['tcp:1'] }],
    modules: { mqtt: false, serialport: false },
  };
  const { socket } = await fakeApi((s) => (s.path === '/v1/status' ? { status: 200, json: snapshot } : refusal(404, 'not_found', 'x')));
  const r = await h.run(['status', '--socket', socket]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, 'syncwire agent 34750f98bd59fcfc  pid 42');
  t.match(r.stdout, 'protocol 2');
  t.match(r.stdout, 'commands:      1512\n');
  t.match(r.stdout, /scopes \(3\):\n {2}NAME +ID +COMMANDS +JOINING\n {2}legacy\/v1 +c{16} +12 +no\n {2}device\/34750f98bd59fcfc +abababababababab +1500 +no\n {2}fleet\/acme +d{16} +0 +yes\n/);
  t.match(r.stdout, /peers \(1\):\n {2}PEER +LINK +AUTH +IN +OUT +FRAMES\n {2}5b923db411e11ee0 +tcp:1 +yes +100 B +200 B +3\/4\n/);
  t.notMatch(r.stdout, 'heads:', 'no single graph');
  const json = await h.run(['status', '--socket', socket, '--json']);
  t.same(JSON.parse(json.stdout), snapshot);
});

t.test('help: the new flags and the scope command', async (t) => {
  const [top, scope, commit, tail, agent, gateway] = await Promise.all([
    h.run(['--help']), h.run(['scope', '--help']), h.run(['commit', '--help']), h.run(['tail', '--help']), h.run(['agent', '--help']), h.run(['gateway', '--help']),
  ]);
  t.match(top!.stdout, /^ {2}scope +list the scopes/m);
  t.equal(scope!.code, 0);
  t.match(scope!.stdout, 'syncwire scope (list [--json] | grant NAME KEY ROLES | revoke NAME KEY)');
  t.match(scope!.stdout, '--json');
  t.match(commit!.stdout, '--scope NAME');
  t.match(tail!.stdout, '--scope NAME');
  t.match(tail!.stdout, '-- gap in <scope>');
  for (const r of [agent!, gateway!]) {
    t.equal(r.code, 0);
    for (const f of ['--protocol N', '--scope-join NAME', '--scope-default NAME']) t.match(r.stdout, f);
  }
});

t.test('pure helpers: gap lines and the commit path', async (t) => {
  t.equal(parseGapLine(cmdLine(1, ID1)), null, 'a command line is no gap');
  t.equal(parseGapLine('{"gap":'), null, 'not JSON');
  t.equal(parseGapLine('{"gap":1}'), null);
  t.equal(formatGap(parseGapLine('{"gap":{"scope":"s","reason":"horizon","before":"1-00","horizon":[{}]}}')!), '-- gap in s: horizon before 1-00 (1 horizon record)');
  t.equal(formatGap({ gap: {} }), '-- gap in ?: unknown');
  t.equal(commitPath(undefined), '/v1/commands');
  t.equal(commitPath('fleet/acme'), '/v1/commands?scope=fleet%2Facme');
});

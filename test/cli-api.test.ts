/**
 * The CLI on top of the local HTTP API, run as users run it: real `syncwire` processes (the
 * compiled dist/agent/cli/main.js; build first) against real `syncwire agent` processes (protocol
 * 2, committing to the scope testkit/cli-proc.ts gives them, whose genesis is the first line
 * `tail` prints) on their unix socket (and TCP with a token), and offline. A full disk is played
 * by a fake API answering 503 `disk_full` after two commits (the agent's own answer to a full
 * disk is test/disk-full.test.ts's).
 * Covers: `commit --stdin` (ids in order, mixed JSON/text/CRLF/empty lines, a
 * failure mid-stream keeping what came before, exit 75 on a full disk), `tail` (everything, in
 * order; `--json`; `--after`; `--follow` seeing a later commit and ending 0 on SIGTERM; a cursor
 * the store does not hold), `show` (known, unknown), `key show` (public key, never the secret;
 * loose file refused), `--url` with a token, help and usage errors; and the pure helpers.
 */
import t from 'tap';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { apiStream } from '../agent/api/api-client.js';
import http from 'node:http';
import { CliHarness, commandIds, postCommand, statusUntil, TEST_SCOPES } from '../testkit/cli-proc.js';
import { freePort } from '../testkit/net.js';
import { contentTypeOf, LineTooLongError, readLines } from '../agent/cli/line-reader.js';
import { formatCommand, payloadText, type StreamedCommand } from '../agent/cli/command-line.js';
import { tailSpec } from '../agent/cli/tail-cmd.js';
import { showSpec } from '../agent/cli/show-cmd.js';
import { keySpec } from '../agent/cli/key-cmd.js';
import { commitSpec } from '../agent/cli/commit-cmd.js';

const h = new CliHarness();
t.teardown(() => h.cleanup());

/**
 * A fake agent API on a fresh unix socket whose commits succeed `okCommits` times, then answer
 * 503 `disk_full` as a full agent does; returns the socket and the ids it acknowledged.
 */
async function diskFullApi(okCommits: number): Promise<{ socket: string; ids: string[] }> {
  const socket = join(h.tmp('swdf-'), 'api.sock');
  const ids: string[] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/v1/status') return res.end(JSON.stringify({ protocol: 2, peerId: '0123456789abcdef' }));
      if (ids.length >= okCommits) {
        res.writeHead(503, { 'retry-after': '5' });
        return res.end(JSON.stringify({ error: { reason: 'disk_full', message: 'the disk is full; the command was not stored' } }));
      }
      const id = String(ids.length + 1).repeat(64).slice(0, 64);
      ids.push(id);
      res.writeHead(201);
      res.end(JSON.stringify({ id, cursor: `${ids.length}-${id.slice(0, 16)}`, scope: 'local/test' }));
    });
  });
  await new Promise<void>((r) => server.listen(socket, r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { socket, ids };
}

const lines = (s: string): string[] => s.split('\n').filter((l) => l !== '');

t.test('help for the new commands and flags; usage errors exit 2', async (t) => {
  const specs = [tailSpec, showSpec, keySpec, commitSpec];
  const [top, ...rest] = await Promise.all([
    h.run(['--help']),
    ...specs.map((s) => h.run([s.name, '--help'])),
    h.run(['tail', '--exec', 'cat']),
    h.run(['tail', '--cursor-file', 'x']),
    h.run(['tail', '--after', 'nope']),
    h.run(['show', 'abcd']),
    h.run(['show']),
    h.run(['key']),
    h.run(['key', 'show']),
    h.run(['status', '--url', 'ftp://x:1', '--token-file', 'f']),
    h.run(['status', '--token-file', 'f']),
    h.run(['status', '--url', 'http://127.0.0.1:1'], 30000, { env: { SYNCWIRE_API_TOKEN_FILE: '' } }),
    h.run(['commit', '--stdin', '--text', 'x']),
  ]);
  for (const c of ['tail', 'show', 'key', 'commit', 'status']) t.match(top!.stdout, new RegExp(`^  ${c} `, 'm'), `top help lists ${c}`);
  specs.forEach((spec, i) => {
    const r = rest[i]!;
    t.equal(r.code, 0, `${spec.name} --help`);
    for (const flag of Object.keys(spec.flags)) t.match(r.stdout, `--${flag}`, `${spec.name} --help mentions --${flag}`);
  });
  const usage = rest.slice(specs.length);
  const want = [
    '--exec needs --cursor-file',
    '--cursor-file is for --exec',
    '--after: expected a cursor',
    'expected a full command id (64 hex chars)',
    'give the command id',
    'expected a subcommand: key show FILE',
    'key show: give the key file',
    '--url: expected http://host:port',
    '--token-file is for --url',
    '--url needs the bearer token',
    'give exactly one of --text, --hex, --file, --stdin',
  ];
  want.forEach((text, i) => {
    t.equal(usage[i]!.code, 2, `usage error: ${text}`);
    t.match(usage[i]!.stderr, text);
  });
});

t.test('key show prints the peer id and public key, never the secret; a loose file is refused', async (t) => {
  const d = h.tmp('swk-');
  const file = join(d, 'key.json');
  const made = await h.keygen(file);
  const secret = (JSON.parse(readFileSync(file, 'utf8')) as { secretKey: string }).secretKey;
  const [human, json] = await Promise.all([h.run(['key', 'show', file]), h.run(['key', 'show', file, '--json'])]);
  t.equal(human.code, 0, human.stderr);
  t.equal(human.stdout, `peer id:    ${made.peerId}\npublic key: ${made.publicKey}\n`);
  t.same(JSON.parse(json.stdout), { peerId: made.peerId, publicKey: made.publicKey, file });
  for (const r of [human, json]) t.notMatch(r.stdout + r.stderr, secret, 'the secret is not printed');
  chmodSync(file, 0o640);
  const loose = await h.run(['key', 'show', file]);
  t.equal(loose.code, 78);
  t.match(loose.stderr, 'must not be accessible by group or others');
  t.notMatch(loose.stdout + loose.stderr, secret);
});

t.test('commit --stdin: 50 ids in line order; tail prints all of them in order; --json, --after; show', async (t) => {
  const d = h.tmp('swa-');
  const a = await h.agent(d);
  // JSON, text, CRLF endings and empty lines (skipped); no newline after the last line.
  const input = Array.from({ length: 50 }, (_, i) => (i % 3 === 0 ? `{"n":${i}}` : `line ${i}`) + (i % 5 === 0 ? '\r\n\n' : '\n')).join('').trimEnd();
  const c = await h.run(['commit', '--stdin', '-d', d], 60000, { input });
  t.equal(c.code, 0, c.stderr);
  const ids = lines(c.stdout);
  t.equal(ids.length, 50, '50 ids');
  t.same(ids, await commandIds(a.socket), 'ids printed in line order = the store\'s order');

  const [human, json] = await Promise.all([h.run(['tail', '-d', d]), h.run(['tail', '--json', '-s', a.socket])]);
  t.equal(human.code, 0, human.stderr);
  // The scope's genesis (handle 0) comes first.
  const [genesis, ...hl] = lines(human.stdout);
  t.match(genesis, /^0-[0-9a-f]{16}  /, 'the genesis first');
  t.equal(hl.length, 50);
  hl.forEach((l, i) => {
    const [cursor, shortId, author, seq, ...payload] = l.split('  ');
    t.equal(cursor, `${i + 1}-${ids[i]!.slice(0, 16)}`);
    t.equal(shortId, ids[i]!.slice(0, 12));
    t.equal(author, a.peerId);
    t.equal(seq, String(i + 1), 'seq counts from 1');
    t.equal(payload.join('  '), i % 3 === 0 ? `{"n":${i}}` : `line ${i}`);
  });
  const all = lines(json.stdout).map((l) => JSON.parse(l) as StreamedCommand & { kind: string; scope: string });
  t.match(all[0], { kind: 'genesis', scope: 'local/test' });
  const entries = all.slice(1);
  t.ok(entries.every((e) => e.kind === 'data' && e.scope === 'local/test'), 'then the data commands, in their scope');
  t.same(entries.map((e) => e.id), ids, 'tail --json: the same order');
  t.same(entries[3]!.json, { n: 3 });
  t.equal(Buffer.from(entries[1]!.payload, 'base64').toString(), 'line 1');
  t.notOk('json' in entries[1]!, 'no json field for a text payload');

  const resumed = await h.run(['tail', '--json', '-d', d, '--after', entries[24]!.cursor]);
  t.same(lines(resumed.stdout).map((l) => (JSON.parse(l) as StreamedCommand).id), ids.slice(25), '--after resumes right after the cursor');
  const unknown = await h.run(['tail', '-d', d, '--after', `${entries[24]!.cursor.split('-')[0]}-${'0'.repeat(16)}`]);
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, 'cursor_unknown');

  const [shown, missing] = await Promise.all([h.run(['show', '-d', d, ids[3]!.toUpperCase()]), h.run(['show', '-d', d, 'f'.repeat(64)])]);
  t.equal(shown.code, 0, shown.stderr);
  t.match(JSON.parse(shown.stdout), { id: ids[3], cursor: entries[3]!.cursor, seq: 4, json: { n: 3 } });
  t.match(shown.stdout, /^\{\n  "cursor"/, 'pretty-printed');
  t.equal(missing.code, 1);
  t.match(missing.stderr, `${'f'.repeat(64)}: not found`);
});

t.test('tail --follow sees a command committed later; --after end; SIGTERM ends it with 0', async (t) => {
  const d = h.tmp('swf-');
  const a = await h.agent(d);
  const first = await postCommand(a.socket, 'before');
  const all = h.start(['tail', '--follow', '-d', d]);
  const fresh = h.start(['tail', '--follow', '--after', 'end', '--json', '-d', d]);
  await all.waitStdout(/before/);
  // Through the real CLI: the follower must see it without a restart.
  const c = await h.run(['commit', '-d', d, '--text', '{"later":true}']);
  t.equal(c.code, 0, c.stderr);
  await Promise.all([all.waitStdout(/\{"later":true\}/), fresh.waitStdout(/"later"/)]);
  const [r1, r2] = await Promise.all([all.stop('SIGTERM'), fresh.stop('SIGINT')]);
  t.equal(r1.code, 0, r1.stderr);
  t.equal(r2.code, 0, r2.stderr);
  t.same(lines(r1.stdout).slice(1).map((l) => l.split('  ')[1]), [first.slice(0, 12), c.stdout.trim().slice(0, 12)], 'after the genesis: both, in order');
  t.same(lines(r2.stdout).map((l) => (JSON.parse(l) as StreamedCommand).id), [c.stdout.trim()], '--after end: only the new one');
});

t.test('after=end names where it starts (Syncwire-Start-Cursor), so a reconnecting tail skips nothing', async (t) => {
  // Regression: "end" was resolved again on each reconnect, skipping what arrived meanwhile.
  const d = h.tmp('swr-');
  const a = await h.agent(d);
  const fresh: IncomingHttpHeaders[] = [];
  for await (const _ of apiStream({ socketPath: a.socket }, '/v1/commands?after=end', { onHeaders: (hd) => fresh.push(hd) })) t.fail('no commands after the genesis yet');
  t.match(fresh[0]?.['syncwire-start-cursor'], /^0-[0-9a-f]{16}$/, 'a fresh scope: the stream starts after its genesis (handle 0)');
  const old = await postCommand(a.socket, 'old');
  const seen: IncomingHttpHeaders[] = [];
  for await (const _ of apiStream({ socketPath: a.socket }, '/v1/commands?after=end', { onHeaders: (hd) => seen.push(hd) })) t.fail('nothing after the end');
  t.equal(seen[0]?.['syncwire-start-cursor'], `1-${old.slice(0, 16)}`, 'the cursor of the last command held');
  await a.stop();
});

t.test('commit --stdin failing mid-stream: stops at the line, keeps what came before, exit status of the table', async (t) => {
  const d = h.tmp('swe-');
  const a = await h.agent(d);
  const big = 'x'.repeat(2000); // over the command size limit: refused 413
  const tooBig = await h.run(['commit', '--stdin', '-d', d], 30000, { input: `a\nb\n\nc\n${big}\nnever\n` });
  t.equal(tooBig.code, 1);
  t.match(tooBig.stderr, 'line 5 failed, 3 commands committed before it');
  t.match(tooBig.stderr, 'too_large');
  t.same(lines(tooBig.stdout), await commandIds(a.socket), 'the three before it are committed and printed');

  const full = await diskFullApi(2);
  const r = await h.run(['commit', '--stdin', '--socket', full.socket], 30000, { input: '1\n2\n3\n4\n' });
  t.equal(r.code, 75, 'disk full: try again later');
  t.match(r.stderr, 'line 3 failed, 2 commands committed before it');
  t.match(r.stderr, 'disk_full');
  t.equal(full.ids.length, 2, 'nothing sent after the refused line');
  t.same(lines(r.stdout), full.ids);
});

t.test('--url with a bearer token: status, commit --stdin and tail over TCP; a wrong token is refused', async (t) => {
  const d = h.tmp('swu-');
  const token = 'tok-0123456789abcdef-tok';
  const tf = join(d, 'token');
  writeFileSync(tf, token + '\n', { mode: 0o600 });
  const bad = join(d, 'bad');
  writeFileSync(bad, 'wrong-token-0123456789', { mode: 0o600 });
  const port = await freePort();
  const cfg = join(d, 'config.json');
  writeFileSync(cfg, JSON.stringify({ api: { listen: `127.0.0.1:${port}`, tokenFile: tf }, scopes: TEST_SCOPES }));
  const a = await h.agent(d, ['--config', cfg]);
  const url = `http://127.0.0.1:${port}`;
  const c = await h.run(['commit', '--stdin', '--url', url, '--token-file', tf], 30000, { input: 'one\ntwo\n' });
  t.equal(c.code, 0, c.stderr);
  t.same(lines(c.stdout), await commandIds(a.socket));
  const [tail, status, wrong] = await Promise.all([
    h.run(['tail', '--url', url], 30000, { env: { SYNCWIRE_API_TOKEN_FILE: tf } }),
    h.run(['status', '--json', '--url', url, '--token-file', tf]),
    h.run(['tail', '--url', url, '--token-file', bad]),
  ]);
  t.equal(tail.code, 0, tail.stderr);
  t.same(lines(tail.stdout).slice(1).map((l) => l.split('  ').at(-1)), ['one', 'two'], 'token from $SYNCWIRE_API_TOKEN_FILE');
  t.equal((JSON.parse(status.stdout) as { commands: number }).commands, 3, 'the genesis and the two');
  t.equal(wrong.code, 78, 'unauthorized: the token file is a config problem');
  t.match(wrong.stderr, 'unauthorized');
});

t.test('a real syncwire agent: commit --stdin through it, offline into its data dir, tail with no agent', async (t) => {
  const d = h.tmp('swr-');
  const running = await h.agent(d);
  const through = await h.run(['commit', '--stdin', '-d', d], 30000, { input: '{"a":1}\nb\n' });
  t.equal(through.code, 0, through.stderr);
  t.equal(lines(through.stdout).length, 2);
  t.equal((await statusUntil(join(d, 'status.sock'), (s) => s.commands === 3)).commands, 3, 'the genesis and the two');
  const stopped = await running.stop();
  t.equal(stopped.code, 0, stopped.stderr);

  const none = await h.run(['tail', '-d', d]);
  t.equal(none.code, 1);
  t.match(none.stderr, 'no agent is running there');
  // No --config: the scope store's only scope is the one the commit goes to.
  const offline = await h.run(['commit', '--stdin', '-d', d], 30000, { input: 'c\r\nd\n\ne' });
  t.equal(offline.code, 0, offline.stderr);
  const offIds = lines(offline.stdout);
  t.equal(offIds.length, 3, 'offline: one store session, three commits');
  const tooBig = await h.run(['commit', '--stdin', '-d', d], 30000, { input: `f\n${'y'.repeat(2000)}\n` });
  t.equal(tooBig.code, 1);
  t.match(tooBig.stderr, 'line 2 failed, 1 command committed before it');

  // Everything is in the store, in order: read it back through the API.
  const again = await h.agent(d);
  const ids = await commandIds(again.socket);
  t.equal(ids.length, 6);
  t.same(ids.slice(2, 5), offIds);
  t.same(ids.slice(0, 2), lines(through.stdout));
});

t.test('pure helpers: line reader, content types, payload rendering', async (t) => {
  const read = async (chunks: (string | Buffer)[], max = 100): Promise<[number, string][]> => {
    const out: [number, string][] = [];
    for await (const l of readLines(Readable.from(chunks), max)) out.push([l.lineNo, Buffer.from(l.bytes).toString('latin1')]);
    return out;
  };
  t.same(await read(['a\r\n\nb', 'c\nd']), [[1, 'a'], [3, 'bc'], [4, 'd']]);
  t.same(await read(['x\r', '\ny\r\n']), [[1, 'x'], [2, 'y']], 'CR at a chunk end');
  t.same(await read([Buffer.from([0xff, 0x0a, 0x00])]), [[1, '\xff'], [2, '\x00']], 'bytes kept as they are');
  t.same(await read(['\n\n']), []);
  await t.rejects(read(['ok\n', 'z'.repeat(50), 'z'.repeat(51), '\n'], 100), LineTooLongError);
  await t.rejects(read(['ok\n' + 'z'.repeat(101) + '\n'], 100), new LineTooLongError(2, 100), 'names its line');
  t.same(await read(['z'.repeat(100) + '\r\n'], 100), [[1, 'z'.repeat(100)]], 'exactly the limit');

  t.equal(contentTypeOf(Buffer.from('{"a":1}')), 'application/json');
  t.equal(contentTypeOf(Buffer.from('42')), 'application/json');
  t.equal(contentTypeOf(Buffer.from('hello')), 'text/plain; charset=utf-8');
  t.equal(contentTypeOf(Buffer.from([0xc3])), 'application/octet-stream');

  const cmd = (payload: Buffer, json?: unknown): StreamedCommand => ({
    cursor: '7-0123456789abcdef', id: 'ab'.repeat(32), author: 'cd'.repeat(8), seq: 3, parents: [], payload: payload.toString('base64'), ...(json !== undefined ? { json } : {}),
  });
  t.equal(payloadText(cmd(Buffer.from('{ "a" : 1 }'), { a: 1 })), '{"a":1}');
  t.equal(payloadText(cmd(Buffer.from('héllo\tthere'))), 'héllo\tthere');
  t.equal(payloadText(cmd(Buffer.from('two\nlines'))), `base64:${Buffer.from('two\nlines').toString('base64')}`);
  t.equal(payloadText(cmd(Buffer.from([0xff, 0x00]))), 'base64:/wA=');
  t.equal(formatCommand(cmd(Buffer.from('x'))), `7-0123456789abcdef  ${'ab'.repeat(6)}  ${'cd'.repeat(8)}  3  x`);
});

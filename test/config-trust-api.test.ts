/**
 * The config keys of issue 15 (agent/cli/config.ts): `trust.keysFile` joins `trust.keys`
 * (union, relative paths from the working directory, labels kept, a bad file is a config error
 * naming the line), `api.listen` / `api.tokenFile` (host:port and [v6]:port, the port's range,
 * the token file required with a listener, its mode, length and trimming), and what a config
 * without them resolves to. Messages are checked as loadConfig prints them (file: path: text).
 */
import t from 'tap';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { ConfigError, loadConfig, parseListen, resolveConfig, validate } from '../agent/cli/config.js';
import { TrustFileError } from '../agent/cli/trust-file.js';
import { EXIT } from '../agent/cli/exit-codes.js';

const K1 = '3ee739288b1b600f701828f25630b58cac1e40b4d75b48935617dc3f5b61ee4b';
const K2 = '5b923db411e11ee0c4f1aa00112233445566778899aabbccddeeff0011223344';
const K3 = 'abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789';
const TOKEN = 'Zq3v9-x_Lw0r8T2mYkP4';

const dir = mkdtempSync(join(tmpdir(), 'swcfg-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string, mode = 0o600): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  chmodSync(p, mode);
  return p;
}
const cfgFile = (name: string, c: object): string => file(name, JSON.stringify(c), 0o644);

async function rejection(p: Promise<unknown>): Promise<ConfigError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

t.test('trust.keysFile: union with trust.keys, labels, relative to the working directory', async (t) => {
  const keys = file('trusted', `# fleet\n${K2} pi-kitchen\n${K3}\n${K1.toUpperCase()} gw (also in trust.keys)\n`, 0o644);
  const cfg = await loadConfig(cfgFile('k.json', { trust: { keys: [K1], keysFile: relative(process.cwd(), keys) } }));
  t.equal(cfg.trust.keysFile, keys, 'absolute');
  t.same(cfg.trust.keys, [K1, K2, K3], 'union, no duplicates, lowercase');
  t.same(cfg.trust.configKeys, [K1]);
  t.equal(cfg.trust.labels.get(K2), 'pi-kitchen');
  t.equal(cfg.trust.labels.has(K3), false);
  const none = resolveConfig({});
  t.same(none.trust, { mode: 'list', keys: [], configKeys: [], keysFile: null, labels: new Map() });
});

t.test('a bad keys file is a config error naming the file and the line', async (t) => {
  const keys = file('bad-trusted', `${K1}\nnot-a-key\n`, 0o644);
  const e = await rejection(loadConfig(cfgFile('kb.json', { trust: { keysFile: keys } })));
  t.ok(e instanceof TrustFileError);
  t.equal(e.exitCode, EXIT.config);
  t.match(e.message, `${keys}:2: expected a 64-hex-char public key`);
  const missing = await rejection(loadConfig(cfgFile('km.json', { trust: { keysFile: join(dir, 'absent') } })));
  t.match(missing.message, 'cannot read the trust file: ENOENT');
  t.same(await validate({ trust: { keysFile: '' } }), [{ path: '/trust/keysFile', text: 'expected a file path, got ""' }]);
});

t.test('api.listen: host:port and [v6]:port', async (t) => {
  t.same(parseListen('127.0.0.1:8787'), { host: '127.0.0.1', port: 8787 });
  t.same(parseListen('[::1]:8787'), { host: '::1', port: 8787 });
  t.same(parseListen('localhost:1'), { host: 'localhost', port: 1 });
  t.same(parseListen('[fe80::1%eth0]:80'), null, 'no zone ids');
  for (const bad of ['::1:8787', 'h:0', 'h:65536', 'h', ':80', '[::1]', 'h:80/x', 'a b:80']) t.equal(parseListen(bad), null, bad);

  const token = file('token', `  ${TOKEN}\n`);
  const cfg = await loadConfig(cfgFile('api.json', { api: { listen: '[::1]:8787', tokenFile: token } }));
  t.same(cfg.api, { listen: { host: '::1', port: 8787 }, token: TOKEN }, 'the token trimmed');
  t.same(resolveConfig({}).api, { listen: null, token: null }, 'no listener by default');
  t.same(resolveConfig({ api: { tokenFile: '/nowhere' } }).api, { listen: null, token: null }, 'a token file alone is not read');

  const e = await rejection(loadConfig(cfgFile('api-bad.json', { api: { listen: '::1:8787', tokenFile: token } })));
  t.match(e.message, 'api-bad.json: /api/listen: expected "host:port" (IPv6 in brackets, e.g. "[::1]:8787"), got "::1:8787"');
  const port = await rejection(loadConfig(cfgFile('api-port.json', { api: { listen: 'h:70000', tokenFile: token } })));
  t.match(port.message, 'api-port.json: /api/listen: expected a port from 1 to 65535, got "h:70000"');
  const unknown = await rejection(loadConfig(cfgFile('api-x.json', { api: { listen: 'h:1', tokenFile: token, token: 'x' } })));
  t.match(unknown.message, 'api-x.json: /api/token: unknown field (allowed: listen, tokenFile)');
});

t.test('api.tokenFile: required with listen; private; long enough; one line', async (t) => {
  const noToken = await rejection(loadConfig(cfgFile('nt.json', { api: { listen: '127.0.0.1:8787' } })));
  t.equal(noToken.exitCode, EXIT.config);
  t.match(noToken.message, 'nt.json: /api/tokenFile: missing; required with /api/listen');
  t.throws(() => resolveConfig({ api: { listen: '127.0.0.1:8787' } }), ConfigError, 'resolveConfig alone refuses it too');

  const open = file('token-open', TOKEN, 0o640);
  const e = await rejection(loadConfig(cfgFile('to.json', { api: { listen: '127.0.0.1:1', tokenFile: open } })));
  t.match(e.message, `${open}: API token file mode is 0640; it must not be accessible by group or others (chmod 600 ${open})`);
  const short = file('token-short', 'short-token\n');
  t.match((await rejection(loadConfig(cfgFile('ts.json', { api: { listen: '127.0.0.1:1', tokenFile: short } })))).message, 'API token is 11 characters after trimming; at least 16 are required');
  const twoLines = file('token-2', `${TOKEN}\n${TOKEN}\n`);
  t.match((await rejection(loadConfig(cfgFile('t2.json', { api: { listen: '127.0.0.1:1', tokenFile: twoLines } })))).message, 'one line of visible ASCII');
  const absent = join(dir, 'no-token');
  t.match((await rejection(loadConfig(cfgFile('ta.json', { api: { listen: '127.0.0.1:1', tokenFile: absent } })))).message, `${absent}: /api/tokenFile: cannot read: ENOENT`);
});

t.test('the generated check and the explanation agree on the new keys', async (t) => {
  t.same(await validate({ trust: { keysFile: 'k' }, api: { listen: 'h:1', tokenFile: 't' } }), []);
  t.same(await validate({ api: { listen: 'h:1' } }), [{ path: '/api/tokenFile', text: 'missing; required with /api/listen (every TCP request needs the bearer token it holds)' }]);
  t.same(await validate({ api: { listen: 5 } }), [{ path: '/api/listen', text: 'expected "host:port" (IPv6 in brackets, e.g. "[::1]:8787"), got 5' }]);
  t.same(await validate({ trust: { keysFile: 'k', extra: 1 } }), [{ path: '/trust/extra', text: 'unknown field (allowed: mode, keys, keysFile)' }]);
});

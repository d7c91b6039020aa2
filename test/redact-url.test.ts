/**
 * The one URL redaction (agent/transport/url.ts `redactUrl`): passwords in the userinfo of every
 * scheme, userinfo shared by an MQTT broker list, secret query parameters, URLs too broken to
 * parse; and no false positives — a URL without secrets comes back byte for byte. Also: the
 * places that show URLs (`--print-config`, transport errors and `Transport.url`) go through it.
 */
import fc from 'fast-check';
import t from 'tap';
import { printableConfig } from '../agent/cli/node-flags.js';
import { resolveConfig } from '../agent/cli/config.js';
import { openTransport, redactUrl } from '../agent/transport/registry.js';
import { SECRET_PARAMS } from '../agent/transport/redact-url.js';

const SCHEMES = ['tcp', 'tcp-listen', 'tls', 'tls-listen', 'mqtt', 'mqtts', 'mqtt-listen', 'mqtts-listen'];

t.test('the password of the userinfo is masked in every scheme; the user name is kept', async (t) => {
  for (const s of SCHEMES) {
    t.equal(redactUrl(`${s}://gw:s3cret@broker:1883/0123456789abcdef`), `${s}://gw:***@broker:1883/0123456789abcdef`, s);
  }
  t.equal(redactUrl('mqtt://gw:p%40ss%2Fw@[::1]:1883/x'), 'mqtt://gw:***@[::1]:1883/x', 'percent-encoded password, IPv6 host');
  t.equal(redactUrl('mqtt://gw:p@ss@broker/x'), 'mqtt://gw:***@broker/x', 'a raw @ in the password: the last @ ends the userinfo');
  t.equal(redactUrl('mqtt://gw:s3cret@[bad'), 'mqtt://gw:***@[bad', 'an unparsable host');
  t.equal(redactUrl('MQTT://GW:S3CRET@BROKER:1/x'), 'MQTT://GW:***@BROKER:1/x', 'case of the scheme does not matter; nothing is normalised');
  t.equal(redactUrl('mqtt://gw@broker/x'), 'mqtt://gw@broker/x', 'a user name alone is not a secret');
  t.equal(redactUrl('mqtt://gw:@broker/x'), 'mqtt://gw:@broker/x', 'an empty password shows nothing to hide');
});

t.test('a broker node list shares one userinfo: masked once, every node kept', async (t) => {
  t.equal(redactUrl('mqtts://gw:s3cret@h1:8883,h2:8883,[::1]:8883/0123456789abcdef?self=fedcba9876543210'), 'mqtts://gw:***@h1:8883,h2:8883,[::1]:8883/0123456789abcdef?self=fedcba9876543210');
  t.equal(redactUrl('mqtt-listen://gw:s3cret@h1,h2'), 'mqtt-listen://gw:***@h1,h2');
});

t.test('a password holding a raw / ? or #: everything up to the last @ is masked', async (t) => {
  for (const c of ['/', '?', '#']) {
    const r = redactUrl(`mqtt://gw:s3${c}cret@broker:1883/0123456789abcdef`);
    t.notMatch(r, /s3|cret/, `raw ${c}`);
    t.equal(r, 'mqtt://***@broker:1883/0123456789abcdef', `raw ${c}: the node and path stay readable`);
  }
});

t.test('secret query parameters are masked; others are kept byte for byte', async (t) => {
  t.equal(redactUrl('mqtt://broker/x?self=fedcba9876543210&token=abc&ca=%2Fetc%2Fca.pem'), 'mqtt://broker/x?self=fedcba9876543210&token=***&ca=%2Fetc%2Fca.pem');
  t.equal(redactUrl('serial:/dev/ttyUSB0?password=hunter2&baud=9600'), 'serial:/dev/ttyUSB0?password=***&baud=9600', 'a URL without authority');
  t.equal(redactUrl('tcp://h:1?Api_Key=k#frag'), 'tcp://h:1?Api_Key=***#frag', 'names match case-insensitively; the fragment is kept');
  t.equal(redactUrl('tcp://h:1?pass%77ord=x'), 'tcp://h:1?pass%77ord=***', 'percent-encoded names are decoded first');
  for (const name of SECRET_PARAMS) t.equal(redactUrl(`tcp://h:1?${name}=v`), `tcp://h:1?${name}=***`, name);
});

t.test('no false positives: URLs without secrets come back unchanged', async (t) => {
  const plain = [
    'serial:/dev/ttyUSB0?baud=115200&seal=prefer',
    'tcp://[::1]:7000',
    'tcp-listen://0.0.0.0:0?max_conns=8',
    'tls://host:7001?ca=/etc/ssl/ca.pem&key=/etc/ssl/k.pem&cert=c.pem',
    'mqtt://h1:1883,h2:1884/0123456789abcdef?prefix=a@b&self=fedcba9876543210',
    'mqtt://broker/peer@x',
    'tcp://h:1#a@b',
    'not a url',
    '',
  ];
  for (const u of plain) t.equal(redactUrl(u), u, JSON.stringify(u));
});

const label = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/);
const node = fc.tuple(label, fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined })).map(([h, p]) => (p === undefined ? h : `${h}:${p}`));
const nodes = fc.array(node, { minLength: 1, maxLength: 3 }).map((n) => n.join(','));
const path = fc.option(fc.stringMatching(/^\/[a-zA-Z0-9/._@-]{0,20}$/), { nil: '' });
const query = fc.option(
  fc.array(fc.tuple(fc.constantFrom('baud', 'seal', 'prefix', 'self', 'ca', 'key', 'max_conns'), fc.stringMatching(/^[a-zA-Z0-9%@._-]{0,12}$/)), { minLength: 1, maxLength: 3 }).map((q) => '?' + q.map(([k, v]) => `${k}=${v}`).join('&')),
  { nil: '' },
);

t.test('property: the password never shows, whatever it holds; the rest is untouched', async (t) => {
  // Every password carries the marker, so finding it in the output means a leak.
  const password = fc.string({ maxLength: 12 }).map((s) => `S3CR3T${s}`);
  fc.assert(
    fc.property(fc.constantFrom(...SCHEMES), label, password, nodes, path, query, (scheme, user, pass, hosts, p, q) => {
      const out = redactUrl(`${scheme}://${user}:${pass}@${hosts}${p}${q}`);
      if (out.includes('S3CR3T')) return false;
      // A password without the characters that end an authority is masked in place.
      return /[/?#]/.test(pass) || out === `${scheme}://${user}:***@${hosts}${p}${q}`;
    }),
    { numRuns: 2000 },
  );
  t.pass('no password leaked in 2000 URLs');
});

t.test('property: a URL without userinfo or secret parameters is returned unchanged', async (t) => {
  fc.assert(
    fc.property(fc.constantFrom(...SCHEMES), nodes, path, query, (scheme, hosts, p, q) => {
      const u = `${scheme}://${hosts}${p}${q}`;
      return redactUrl(u) === u;
    }),
    { numRuns: 2000 },
  );
  t.pass('2000 URLs unchanged');
});

t.test('the places that show URLs use it: --print-config, transport errors, Transport.url', async (t) => {
  const cfg = resolveConfig({ links: ['mqtt://gw:s3cret@h1,h2/0123456789abcdef', 'tcp://h:1?token=t0k3n'], mqtt: { password: 'pw' } });
  const printed = JSON.stringify(printableConfig(cfg));
  t.notMatch(printed, /s3cret|t0k3n|"pw"/, 'no secret in --print-config');
  t.match(printed, /mqtt:\/\/gw:\*\*\*@h1,h2\/0123456789abcdef/);
  const refusal = async (url: string): Promise<string> => openTransport(url).then((tr) => (void tr.close(), 'opened'), (err: Error) => err.message);
  const bad = await refusal('tcp://gw:s3cret@h:1?nodelay=0');
  t.match(bad, /gw:\*\*\*@h:1.*unknown parameter nodelay/, 'an error message names the URL redacted');
  t.notMatch(bad, /s3cret/);
  t.notMatch(await refusal('tcp://h:1?password=s3cret'), /s3cret/, 'a secret parameter the transport refuses');
  const tr = await openTransport('mqtt://gw:s3cret@127.0.0.1:1/0123456789abcdef?self=fedcba9876543210', { reconnectBaseMs: 60_000 });
  t.equal(tr.url, 'mqtt://gw:***@127.0.0.1:1/0123456789abcdef?self=fedcba9876543210');
  await tr.close();
});

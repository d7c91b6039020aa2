/**
 * The trusted-keys file (agent/cli/trust-file.ts): what a good file yields (keys in order,
 * labels, comments, blank lines, CRLF, a BOM, case), what a bad one is refused for (every bad line
 * and duplicate named by line number, the first one's reason and line on the error), the file-level
 * refusals (missing, directory, too large, writable by others), and a property: whatever
 * formatTrustFile writes, parseTrustFile reads back as the same keys and labels.
 */
import fc from 'fast-check';
import t from 'tap';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toHex } from '../protocol/keys.js';
import { formatTrustFile, MAX_TRUST_FILE_BYTES, parseTrustFile, readTrustFile, TrustFileError } from '../agent/cli/trust-file.js';
import { ConfigError } from '../agent/cli/config.js';
import { EXIT } from '../agent/cli/exit-codes.js';

const K1 = '3ee739288b1b600f701828f25630b58cac1e40b4d75b48935617dc3f5b61ee4b';
const K2 = '5b923db411e11ee0c4f1aa00112233445566778899aabbccddeeff0011223344';
const K3 = 'ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789';

function refused(fn: () => unknown): TrustFileError {
  try {
    fn();
  } catch (err) {
    if (err instanceof TrustFileError) return err;
    throw err;
  }
  throw new Error('expected a TrustFileError');
}

t.test('a good file: keys in order, labels, comments, blank lines, CRLF, BOM, case', async (t) => {
  const text = `\uFEFF# gateways\r\n\r\n${K1}  gw-north \r\n   ${K2}\t# pi kitchen\n\n  # indented comment\n${K3}\n`;
  const f = parseTrustFile(text, 'keys.txt');
  t.same(f.keys.map(toHex), [K1, K2, K3.toLowerCase()]);
  t.same([...f.labels], [[K1, 'gw-north'], [K2, 'pi kitchen']], 'labels trimmed, a leading # dropped; no label, no entry');
  t.same(parseTrustFile('', 'e').keys, [], 'an empty file trusts nobody (and is valid)');
  t.same(parseTrustFile('# nothing yet\n', 'e').keys, []);
  t.same(parseTrustFile(K1, 'e').keys.map(toHex), [K1], 'no final newline');
  t.equal(parseTrustFile(`${K1} a label with  inner   spaces # and a hash`, 'e').labels.get(K1), 'a label with  inner   spaces # and a hash');
});

t.test('bad lines and duplicates are named by line number; nothing is half-accepted', async (t) => {
  const text = [`${K1} ok`, 'not a key', `${K1.slice(0, 63)}`, `${K1}a`, '', `${K2}`, `${K1.toUpperCase()} again`].join('\n');
  const e = refused(() => parseTrustFile(text, '/etc/syncwire/trusted-keys'));
  t.ok(e instanceof ConfigError, 'a ConfigError');
  t.equal(e.exitCode, EXIT.config);
  t.equal(e.reason, 'BadLine');
  t.equal(e.line, 2, 'the first problem');
  t.match(e.message, '/etc/syncwire/trusted-keys:2: expected a 64-hex-char public key, then optionally a label; got "not a key"');
  t.match(e.message, '/etc/syncwire/trusted-keys:3: expected a 64-hex-char public key, got 63 hex chars');
  t.match(e.message, '/etc/syncwire/trusted-keys:4: expected a 64-hex-char public key, got 65 hex chars');
  t.match(e.message, `/etc/syncwire/trusted-keys:7: key ${K1.slice(0, 16)}… is already listed on line 1`);
  t.notMatch(e.message, ':6:', 'good lines are not mentioned');

  const dup = refused(() => parseTrustFile(`${K1}\n${K2}\n${K1} twice\n`, 'k'));
  t.equal(dup.reason, 'DuplicateKey');
  t.equal(dup.line, 3);

  const many = refused(() => parseTrustFile(Array.from({ length: 25 }, (_, i) => `bad ${i}`).join('\n'), 'k'));
  t.equal(many.message.split('\n').length, 11, 'ten problems listed, then a count');
  t.match(many.message, 'k: … and 15 more bad lines');
  t.equal(many.line, 1);
});

t.test('reading: missing, a directory, too large, writable by others; a good file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'swtrust-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const missing = refused(() => readTrustFile(join(dir, 'nope')));
  t.equal(missing.reason, 'Unreadable');
  t.equal(missing.line, null);
  t.match(missing.message, 'ENOENT');
  mkdirSync(join(dir, 'd'));
  t.equal(refused(() => readTrustFile(join(dir, 'd'))).reason, 'Unreadable');
  const big = join(dir, 'big');
  writeFileSync(big, '#'.repeat(MAX_TRUST_FILE_BYTES + 1));
  t.equal(refused(() => readTrustFile(big)).reason, 'TooLarge');
  const good = join(dir, 'good');
  writeFileSync(good, `${K1} gw\n`, { mode: 0o644 });
  chmodSync(good, 0o644);
  t.same(readTrustFile(good).keys.map(toHex), [K1], 'mode 0644: readable by all is fine (public keys)');
  chmodSync(good, 0o664);
  const open = refused(() => readTrustFile(good));
  t.equal(open.reason, 'UnsafeMode', 'group-writable: whoever writes it decides who connects');
  t.match(open.message, 'mode is 0664');
  chmodSync(good, 0o646);
  t.equal(refused(() => readTrustFile(good)).reason, 'UnsafeMode', 'world-writable');
});

/** A label as formatTrustFile accepts it: no line breaks, nothing trim() would remove at either end. */
const label = fc
  .string({ unit: fc.constantFrom('a', 'Z', '0', ' ', '\t', '#', '-', '_', 'é', '✓', '.', ':'), minLength: 0, maxLength: 12 })
  .filter((s) => s === s.trim());
const hexKey = fc.uint8Array({ minLength: 32, maxLength: 32 }).map(toHex);

t.test('property: format → parse gives back the same keys and labels', async (t) => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.record({ key: hexKey, label: label, upper: fc.boolean() }), { selector: (e) => e.key, maxLength: 20 }),
      fc.array(fc.string({ maxLength: 10 }).filter((s) => !/[\r\n]/.test(s)), { maxLength: 3 }),
      (entries, comment) => {
        const text = formatTrustFile(entries.map((e) => ({ key: e.upper ? e.key.toUpperCase() : e.key, ...(e.label !== '' ? { label: e.label } : {}) })), comment);
        const f = parseTrustFile(text, 'p');
        if (f.keys.map(toHex).join() !== entries.map((e) => e.key).join()) return false;
        const want = entries.filter((e) => e.label !== '').map((e) => [e.key, e.label]);
        return JSON.stringify([...f.labels]) === JSON.stringify(want);
      },
    ),
    { numRuns: 500 },
  );
  t.pass('500 runs');
});

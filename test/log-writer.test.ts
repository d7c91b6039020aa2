/** The log writer under a failing disk: failed writes are retried and reported, a failed fsync is final. */
import t from 'tap';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toHex } from '../protocol/keys.js';
import { LogWriter } from '../agent/store/log-writer.js';

const payload = (s: string): Uint8Array => new TextEncoder().encode(s);
const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'syncwire-store-'));
  dirs.push(d);
  return d;
};
t.teardown(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

t.test('LogWriter: a failed write is retried and reported; a failed fsync is final', async (t) => {
  const logged: string[] = [];
  const log = (m: string) => logged.push(m);
  const file = join(tmp(), 'ro');
  writeFileSync(file, '');
  const ro = openSync(file, 'r');
  const w = new LogWriter(ro, 0, { mode: 'always' }, log);
  w.append(payload('abc'), payload('def'));
  await new Promise((r) => setImmediate(r));
  t.match(logged, [/write failed/]);
  await t.rejects(w.sync(), { code: 'EBADF' });
  t.equal(toHex(w.readStaged(1, 4)!), toHex(payload('bcde')), 'unwritten bytes stay staged');
  t.equal(w.end, 6);
  closeSync(ro);
  // /dev/null takes writes but refuses fdatasync (EINVAL): the stand-in for a failing disk.
  const dn = openSync('/dev/null', 'r+');
  const f = new LogWriter(dn, 0, { mode: 'always' }, log);
  f.append(payload('x'));
  await t.rejects(f.sync(), { code: 'EINVAL' });
  t.match(logged, [/write failed/, /fsync failed/]);
  f.append(payload('y'));
  await t.rejects(f.sync(), { code: 'EINVAL' }, 'no later sync can succeed');
  await t.rejects(f.close(), { code: 'EINVAL' });
  closeSync(dn);
});

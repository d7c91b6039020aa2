/**
 * agent/cli/trust-reload.ts with real v2 engines over real TCP (A holds the open-read scope
 * `fleet/acme`, which B, C and D join): A listens; B (trusted by A's static
 * `trust.keys`), C (in A's keys file) and D (in neither) dial it. Reloading a file that drops C
 * and adds D closes C's link, keeps B's (the same link, no second `peer-up`, commands still
 * flow), and D's redialling dialer gets in. A bad file or an unsafe one changes nothing: the
 * error is thrown, every link stays, the old set stays in force (C is still refused). The log
 * line names every added and removed key with its label.
 */
import t from 'tap';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PeerRejected } from '../agent/sync/engine-events.js';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import { attachTransport, type AttachedTransport } from '../agent/node/attach-transport.js';
import type { Link } from '../agent/link.js';
import type { Logger } from '../agent/node/log.js';
import { resolveConfig } from '../agent/cli/config.js';
import { formatTrustFile, TrustFileError } from '../agent/cli/trust-file.js';
import { reloadTrust } from '../agent/cli/trust-reload.js';
import { generateIdentity, toHex, type Identity } from '../protocol/keys.js';
import { Role } from '../protocol/constants-v2.js';
import { until } from '../testkit/wait.js';
import { FAST_V2, idsIn } from './engine-v2-kit.js';

const dir = mkdtempSync(join(tmpdir(), 'swreload-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const SCOPE = 'fleet/acme';

/** A v2 engine (memory stores) with its peer-up/down/rejected history. */
class Node {
  readonly ups: string[] = [];
  readonly downs: string[] = [];
  readonly rejected: PeerRejected[] = [];
  private constructor(readonly engine: EngineV2) {
    engine.on('peer-up', (p) => this.ups.push(p));
    engine.on('peer-down', (p) => this.downs.push(p));
    engine.on('peer-rejected', (r) => this.rejected.push(r));
  }
  static async open(identity: Identity, trusted: readonly string[], join: string[]): Promise<Node> {
    return new Node(await EngineV2.open({ identity, trust: { mode: 'list', keys: trusted.map((k) => Buffer.from(k, 'hex')) }, tuning: FAST_V2, scopes: { join } }));
  }
  up(peer: Identity): boolean {
    return this.ups.filter((p) => p === peer.peerId).length > this.downs.filter((p) => p === peer.peerId).length;
  }
  has(idHex: string): boolean {
    return idsIn(this.engine, SCOPE).includes(idHex);
  }
}

function infoLog(): Logger & { infos: { fields: Record<string, unknown>; msg: string }[] } {
  const infos: { fields: Record<string, unknown>; msg: string }[] = [];
  return { infos, debug() {}, warn() {}, error() {}, info: (fields, msg) => void infos.push({ fields: fields as Record<string, unknown>, msg: msg ?? '' }) };
}

t.test('reload drops C, adds D, keeps B linked; a bad file changes nothing', async (t) => {
  const [ia, ib, ic, id] = [generateIdentity(), generateIdentity(), generateIdentity(), generateIdentity()];
  const hex = (i: Identity): string => toHex(i.publicKey);
  const keysFile = join(dir, 'trusted-keys');
  writeFileSync(keysFile, formatTrustFile([{ key: hex(ic), label: 'pi-cellar' }], ['A trusts C by file, B by trust.keys']));
  chmodSync(keysFile, 0o644);
  const cfg = resolveConfig({ trust: { keys: [hex(ib)], keysFile } });
  t.same(cfg.trust.keys, [hex(ib), hex(ic)]);

  const a = await Node.open(ia, cfg.trust.keys, []);
  await a.engine.createScope({ name: SCOPE, members: [{ publicKey: ia.publicKey, roles: Role.Read | Role.Write | Role.Admin }], openRead: true });
  const peers = await Promise.all([ib, ic, id].map((i) => Node.open(i, [hex(ia)], [SCOPE])));
  const [b, c, d] = peers as [Node, Node, Node];
  const transports: AttachedTransport[] = [];
  t.teardown(async () => {
    await Promise.allSettled(transports.map((x) => x.close()));
    await Promise.allSettled([a, ...peers].map((n) => n.engine.close()));
  });
  let bLink: Link | undefined;
  const listener = await attachTransport('tcp-listen://127.0.0.1:0', a.engine);
  transports.push(listener);
  for (const n of peers) {
    const onLink = n === b ? (l: Link) => void (bLink = l) : undefined;
    transports.push(await attachTransport(`tcp://127.0.0.1:${listener.localPort}`, n.engine, { reconnectBaseMs: 20, reconnectMaxMs: 100, ...(onLink ? { onLink } : {}) }));
  }
  await until(() => a.up(ib) && a.up(ic) && a.rejected.some((r) => r.publicKey === hex(id)), 20_000, 'B and C up at A, D refused');
  const bLinkBefore = bLink;

  // The reload: C out, D in (with labels).
  writeFileSync(keysFile, formatTrustFile([{ key: hex(id), label: 'pi-kitchen' }]));
  const log = infoLog();
  const r = reloadTrust(a.engine, cfg, log);
  t.same(r, { trusted: 2, added: 1, removed: 1, closed: 1 });
  t.same(cfg.trust.keys, [hex(ib), hex(id)], 'the config now holds the trust in force');
  const line = log.infos.find((l) => l.msg === 'trust reloaded');
  t.ok(line, 'one info line');
  t.match(line?.fields, { trusted: 2, added: 1, removed: 1, closed: 1, keysFile });
  t.same(line?.fields.addedKeys, [{ publicKey: hex(id), peerId: id.peerId, label: 'pi-kitchen' }]);
  t.same(line?.fields.removedKeys, [{ publicKey: hex(ic), peerId: ic.peerId, label: 'pi-cellar' }]);

  await until(() => !a.up(ic), 20_000, "C's link closed");
  await until(() => a.up(id), 20_000, "D's dialer got in on its next attempt");
  t.ok(a.up(ib), 'B still up');
  t.equal(a.ups.filter((p) => p === ib.peerId).length, 1, 'B authenticated once: no new handshake');
  t.notOk(a.downs.includes(ib.peerId), 'B never went down');
  t.equal(bLink, bLinkBefore, "B's dialer holds the same link");
  t.equal(bLink?.open, true);
  const idHex = Buffer.from(await a.engine.commit(SCOPE, new TextEncoder().encode('after reload'))).toString('hex');
  await until(() => b.has(idHex) && d.has(idHex), 20_000, 'a command from A reaches B and D');

  // A bad file: thrown, nothing changes.
  const upsBefore = a.ups.length;
  const downsBefore = a.downs.length;
  const rejectedBefore = a.rejected.filter((x) => x.publicKey === hex(ic)).length;
  writeFileSync(keysFile, `${hex(ic)} back\nthis is not a key\n`);
  const err = t.throws(() => reloadTrust(a.engine, cfg, log)) as TrustFileError;
  t.ok(err instanceof TrustFileError);
  t.equal(err.reason, 'BadLine');
  t.equal(err.line, 2);
  t.same(cfg.trust.keys, [hex(ib), hex(id)], 'config unchanged');
  chmodSync(keysFile, 0o666);
  writeFileSync(keysFile, `${hex(ic)} back\n`);
  t.equal((t.throws(() => reloadTrust(a.engine, cfg, log)) as TrustFileError).reason, 'UnsafeMode', 'a world-writable file is refused too');
  // C keeps redialling: it is still refused under the old trust, and B and D stay up.
  await until(() => a.rejected.filter((x) => x.publicKey === hex(ic)).length > rejectedBefore, 20_000, 'C refused again');
  t.ok(a.up(ib) && a.up(id), 'B and D still up');
  t.equal(a.downs.length, downsBefore, 'no link closed');
  t.equal(a.ups.length, upsBefore, 'no new peer admitted');
  t.equal(log.infos.filter((l) => l.msg === 'trust reloaded').length, 1, 'no second reload logged');
});

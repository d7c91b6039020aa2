/**
 * The bootstrap suite's responder, run as a child process (`node dist/bench/bootstrap-responder.js
 * N REQUESTER_PUBKEY_HEX`) so it does not share the requester's event loop: a v2 engine with the
 * set's identity opens the set's data directory (bench/bootstrap-cache.ts: the scope and its N
 * commands), trusts the requester, serves with engine defaults on tcp-listen://127.0.0.1:0, and
 * prints `PORT <port>` once ready. It exits when its stdin closes (the parent ended).
 */
import { attachLinks } from '../agent/node/attach-transport.js';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import { openTransport } from '../agent/transport/registry.js';
import { fromHex } from '../protocol/keys.js';
import { loadSetOwner } from './bootstrap-cache.js';

async function main(): Promise<void> {
  const [nArg, keyHex] = process.argv.slice(2);
  const set = loadSetOwner(Number(nArg));
  if (set === null || keyHex === undefined) throw new Error('usage: bootstrap-responder N REQUESTER_KEY_HEX (the set must exist)');
  const engine = await EngineV2.open({ identity: set.id, dataDir: set.dataDir, durability: { mode: 'none' }, trust: { mode: 'list', keys: [fromHex(keyHex)] }, scopes: { max: Infinity } });
  const l = await openTransport('tcp-listen://127.0.0.1:0', { maxConnections: 16 });
  attachLinks(l, engine, { onWarn: () => undefined });
  process.stdout.write(`PORT ${l.localPort}\n`);
  const bye = (): void => {
    void l.close().finally(() => engine.close().finally(() => process.exit(0)));
  };
  process.stdin.on('end', bye);
  process.stdin.on('close', bye);
  process.stdin.resume();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

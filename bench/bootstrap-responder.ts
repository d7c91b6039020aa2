/**
 * The bootstrap suite's responder, run as a child process (`node dist/bench/bootstrap-responder.js
 * N COUNT REQUESTER_PUBKEY_HEX`) so it does not share the requester's event loop: it builds a
 * MemoryStore from the first COUNT of the N cached commands (bench/bootstrap-cache.ts), serves
 * them with engine defaults on tcp-listen://127.0.0.1:0, and prints `PORT <port>` once ready.
 * It exits when its stdin closes (the parent ended).
 */
import { MemoryStore } from '../agent/store/memory-store.js';
import { Engine } from '../agent/sync/engine.js';
import { openTransport } from '../agent/transport/registry.js';
import { fromHex } from '../protocol/keys.js';
import { loadCache } from './bootstrap-cache.js';

async function main(): Promise<void> {
  const [nArg, countArg, keyHex] = process.argv.slice(2);
  const cached = loadCache(Number(nArg));
  if (cached === null || keyHex === undefined) throw new Error('usage: bootstrap-responder N COUNT REQUESTER_KEY_HEX (cache must exist)');
  const store = new MemoryStore();
  for (const c of cached.cmds.slice(0, Number(countArg))) store.append(c);
  const engine = new Engine({ identity: cached.id, store, trust: { mode: 'list', keys: [cached.id.publicKey, fromHex(keyHex)] } });
  const l = await openTransport('tcp-listen://127.0.0.1:0', { maxConnections: 16 });
  l.on('link', (link) => engine.attach(link));
  l.on('warn', () => undefined);
  process.stdout.write(`PORT ${l.localPort}\n`);
  const bye = (): void => {
    void engine.close().finally(() => l.close().finally(() => process.exit(0)));
  };
  process.stdin.on('end', bye);
  process.stdin.on('close', bye);
  process.stdin.resume();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

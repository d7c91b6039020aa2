/**
 * The subscriber side of the fan-out bench (bench/fanout.ts), one child process holding a share
 * of the 128 subscribers: it reads `{port, publisher, secrets}` (hex) as one JSON line on stdin,
 * opens one v2 engine per secret (memory stores, trusting the publisher, joining the bench
 * scope), dials the publisher's TCP listener, prints `READY` once every engine is subscribed, and
 * then `D k t` each time all of its engines appended their k-th command from the publisher, `t`
 * being `performance.timeOrigin + performance.now()` (the same clock in every process). Ends when
 * stdin closes.
 */
import { createInterface } from 'node:readline';
import { attachTransport, type AttachedTransport } from '../agent/node/attach-transport.js';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import { fromHex, identityFromSecret } from '../protocol/keys.js';
import { until } from './util.js';
import { BENCH_SCOPE, sessionTo } from './v2-setup.js';

/** What the parent sends. */
export interface SubscribersJob {
  port: number;
  /** The publisher's public key and peer id (hex). */
  publisher: string;
  publisherId: string;
  /** One 32-byte secret per subscriber (hex). */
  secrets: string[];
}

/** Milliseconds on a clock shared by the processes of one machine. */
export const wallMs = (): number => performance.timeOrigin + performance.now();

async function main(): Promise<void> {
  const lines = createInterface({ input: process.stdin });
  const first = await new Promise<string>((resolve) => lines.once('line', resolve));
  const job = JSON.parse(first) as SubscribersJob;
  const pubKey = fromHex(job.publisher);
  const engines = await Promise.all(job.secrets.map((s) => EngineV2.open({ identity: identityFromSecret(fromHex(s)), trust: { mode: 'list', keys: [pubKey] }, scopes: { join: [BENCH_SCOPE] } })));
  const dialers: AttachedTransport[] = [];
  for (const e of engines) dialers.push(await attachTransport(`tcp://127.0.0.1:${job.port}`, e, { reconnectBaseMs: 50, reconnectMaxMs: 1000 }));
  const counts = engines.map(() => 0);
  // Counted from READY on: what joining brought (the genesis) is not a fanned-out commit.
  let base: number[] | null = null;
  let reported = 0;
  engines.forEach((e, i) =>
    e.on('appended', (ev: { from: string }) => {
      if (ev.from !== job.publisherId) return;
      counts[i]!++;
      if (base === null) return;
      const b = base;
      const all = Math.min(...counts.map((c, k) => c - b[k]!));
      while (reported < all) process.stdout.write(`D ${++reported} ${wallMs()}\n`);
    }),
  );
  await until(() => engines.every((e) => {
    const id = e.scope(BENCH_SCOPE)?.id;
    const s = sessionTo(e, job.publisherId);
    return id !== undefined && s?.scoped.push.subscriptionOf(id)?.state === 'subscribed';
  }), 120_000, 'every subscriber subscribed', 10);
  base = [...counts];
  process.stdout.write('READY\n');
  await new Promise<void>((resolve) => lines.once('close', resolve));
  await Promise.allSettled(dialers.map((d) => d.close()));
  await Promise.allSettled(engines.map((e) => e.close()));
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

// Cost of the metrics encoder vs prom-client (issue 15's API budget; the reason in agent/api/prom-text.ts).
// prom-client is not a dependency: install it in a scratch directory and name it:
//   (mkdir -p /tmp/pc && cd /tmp/pc && npm init -y && npm i prom-client)
//   npx tsc -p tsconfig.json && PROM_CLIENT_DIR=/tmp/pc node bench/metrics-cost.mjs
// Each variant runs in a fresh `node --expose-gc` process (this file with `child VARIANT`): warm the
// ESM loader and V8's young generation, gc, RSS/heap; import, register ~25 collect-style families,
// 20 scrapes of a 10-peer snapshot; gc, RSS/heap again. Median of 7 per variant.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

if (process.argv[2] === 'child') await child();
else runner();

async function child() {
  const variant = process.argv[3];
  const mb = (n) => n / 2 ** 20;
  const settle = async () => { for (let i = 0; i < 3; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 30)); } };
  const peers = Array.from({ length: 10 }, (_, i) => ({ id: (i + 1).toString(16).padStart(16, '0'), authenticated: true, sealed: true, bytesIn: 1000 * i, bytesOut: 2000 * i, framesIn: i, framesOut: i, badFrames: 0, sealFailures: 0, replays: 0, unsealedDropped: 0, rehandshakes: 0, unknownScope: 0, scopes: [], sync: { rounds: i, timeoutsInARow: 0 }, lastContactMs: Date.now(), lastSyncMs: Date.now(), reconnects: 0, behind: 0 }));
  const scopes = [{ name: 'fleet/acme', commands: 10, retained: 10, pinned: 0, bytes: 1000, horizon: 0, gaps: 0, activePeers: 10 }];
  const h = { bounds: [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000], cumulative: Array.from({ length: 16 }, (_, i) => i), sumMs: 100, count: 15 };
  const snap = { version: '0.2.0', uptimeS: 5, commands: 10, storeBytes: 1000, rssBytes: 5e7, transports: [{ url: 'tcp-listen://0.0.0.0:7000', links: ['a'] }], peers, scopes, subscriptions: { used: 1, capacity: 128 }, scopeJoinsRejected: 0, versionRefused: 0, unknownScope: 0, notAMember: 0, latency: { pushMs: h, applyMs: h } };
  await import('node:path'); // the ESM loader is warm in an agent: pay for it before the baseline
  await import('node:http');
  // A running agent has long grown its young generation (frames, commands): do the same here, so
  // the figure is what the variant keeps, not V8 committing semi-space on the first garbage.
  for (let i = 0, t = ''; i < 2e5; i++) t = `${i} ${Math.random()}`.repeat(8);
  await settle();
  const r0 = process.memoryUsage();
  let bytes = 0;
  if (variant === 'own') {
    const { renderMetricsV2 } = await import(new URL('../dist/agent/api/metrics-v2.js', import.meta.url).href);
    for (let i = 0; i < 20; i++) bytes = renderMetricsV2(snap).length;
  } else if (variant === 'prom-client') {
    const pc = await import(createRequire(join(process.env.PROM_CLIENT_DIR, 'x.js')).resolve('prom-client'));
    const reg = new pc.Registry();
    // ~25 collect-style metrics reading the same snapshot at scrape time (how an agent would use it).
    const names = ['receive_bytes_total', 'transmit_bytes_total', 'receive_frames_total', 'transmit_frames_total', 'bad_frames_total', 'poll_rounds_total', 'reconnects_total', 'seal_failures_total', 'seal_replays_total', 'unsealed_dropped_total', 'rehandshakes_total'];
    const fields = ['bytesIn', 'bytesOut', 'framesIn', 'framesOut', 'badFrames', 'sealFailures', 'replays', 'unsealedDropped', 'rehandshakes', 'bytesIn', 'bytesOut'];
    names.forEach((n, i) => new pc.Counter({ name: `syncwire_peer_${n}`, help: n, labelNames: ['peer'], registers: [reg], collect() { this.reset(); for (const p of snap.peers) this.inc({ peer: p.id }, p[fields[i]] + 0); } }));
    for (const n of ['sealed', 'behind_commands', 'last_sync_age_seconds', 'last_contact_age_seconds', 'poll_timeouts_consecutive']) new pc.Gauge({ name: `syncwire_peer_${n}`, help: n, labelNames: ['peer'], registers: [reg], collect() { for (const p of snap.peers) this.set({ peer: p.id }, 1); } });
    for (const n of ['peers_up', 'peers_folded', 'sessions_handshaking', 'subscriptions_used', 'subscriptions_capacity', 'store_commands', 'store_bytes']) new pc.Gauge({ name: `syncwire_${n}`, help: n, registers: [reg], collect() { this.set(1); } });
    new pc.Gauge({ name: 'syncwire_build_info', help: 'b', labelNames: ['version'], registers: [reg], collect() { this.set({ version: snap.version }, 1); } });
    new pc.Gauge({ name: 'syncwire_transport_links', help: 'l', labelNames: ['transport'], registers: [reg], collect() { this.set({ transport: snap.transports[0].url }, 1); } });
    new pc.Counter({ name: 'syncwire_ingest_commands_total', help: 'i', labelNames: ['result'], registers: [reg], collect() { this.reset(); this.inc({ result: 'appended' }, 1); } });
    const buckets = h.bounds.map((b) => b / 1000);
    new pc.Histogram({ name: 'syncwire_push_latency_seconds', help: 'p', buckets, registers: [reg] });
    new pc.Histogram({ name: 'syncwire_apply_latency_seconds', help: 'a', buckets, registers: [reg] });
    new pc.Gauge({ name: 'process_resident_memory_bytes', help: 'r', registers: [reg], collect() { this.set(process.memoryUsage.rss()); } });
    for (let i = 0; i < 20; i++) bytes = (await reg.metrics()).length;
  }
  await settle();
  const r1 = process.memoryUsage();
  console.log(JSON.stringify({ variant, rss: mb(r1.rss - r0.rss), heap: mb(r1.heapUsed - r0.heapUsed), bytes }));
}

function runner() {
  const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[s.length >> 1]; };
  const variants = ['none', 'own', ...(process.env.PROM_CLIENT_DIR ? ['prom-client'] : [])];
  const out = {};
  for (let r = 0; r < 7; r++) for (const v of variants) {
    const j = JSON.parse(execFileSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), 'child', v]).toString());
    (out[v] ??= { rss: [], heap: [], bytes: j.bytes });
    out[v].rss.push(j.rss); out[v].heap.push(j.heap);
  }
  for (const [v, o] of Object.entries(out)) console.log(`${v.padEnd(12)} rss +${med(o.rss).toFixed(2)} MB  heap +${med(o.heap).toFixed(2)} MB  exposition ${o.bytes} B  (rss runs ${o.rss.map((x) => x.toFixed(1)).join(' ')})`);
}

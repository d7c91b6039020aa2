/**
 * The one reconnect backoff (agent/transport/backoff.ts), used by every dialer: full jitter
 * (each delay uniform in [0, ceiling]), a random first delay, a doubling ceiling up to the cap.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { Backoff } from '../agent/transport/backoff.js';
import { backoffFrom, resolveOptions } from '../agent/transport/options.js';
import { mulberry32 } from '../testkit/prng.js';

t.test('delays are the random draw times a doubling, capped ceiling', async (tt) => {
  for (const r of [0, 0.25, 0.999]) {
    const b = new Backoff({ baseMs: 100, maxMs: 1000, random: () => r });
    const got = Array.from({ length: 7 }, () => b.next());
    tt.same(got, [100, 200, 400, 800, 1000, 1000, 1000].map((c) => Math.round(r * c)), `random ${r}`);
  }
});

t.test('the first delay is random: spread over [0, base], not clustered at base', async (tt) => {
  const random = mulberry32(7);
  const firsts = Array.from({ length: 2000 }, () => new Backoff({ baseMs: 1000, random }).next());
  tt.ok(firsts.every((d) => d >= 0 && d <= 1000), 'within [0, base]');
  // Uniform: each tenth of the window holds about 200 of 2000 draws (a generous band).
  const bins = new Array<number>(10).fill(0);
  for (const d of firsts) bins[Math.min(9, Math.floor(d / 100))]!++;
  tt.ok(bins.every((n) => n > 120 && n < 280), `uniform over the window: ${bins.join(' ')}`);
  tt.ok(firsts.filter((d) => d < 800).length > 1000, 'most first attempts come well before the base (±20 % jitter put none below 800)');
});

t.test('delays at the cap are uniform in [0, cap]', async (tt) => {
  const b = new Backoff({ baseMs: 10, maxMs: 1000, random: mulberry32(11) });
  for (let i = 0; i < 10; i++) b.next();
  const ds = Array.from({ length: 4000 }, () => b.next());
  tt.ok(ds.every((d) => d >= 0 && d <= 1000), 'within [0, cap]');
  const mean = ds.reduce((a, d) => a + d, 0) / ds.length;
  tt.ok(mean > 450 && mean < 550, `mean ≈ cap/2 (${mean.toFixed(0)})`);
  tt.ok(Math.min(...ds) < 50 && Math.max(...ds) > 950, 'covers the whole window');
});

t.test('reset starts again from the base ceiling', async (tt) => {
  const b = new Backoff({ baseMs: 100, maxMs: 10_000, random: () => 0.5 });
  b.next();
  b.next();
  b.next();
  tt.equal(b.ceilingMs, 800);
  b.reset();
  tt.equal(b.next(), 50);
});

t.test('one implementation: redial and MQTT both build it from the transport options', async (tt) => {
  const o = resolveOptions({ reconnectBaseMs: 100, reconnectMaxMs: 400, random: () => 1 - 1e-9 });
  const b = backoffFrom(o);
  tt.ok(b instanceof Backoff);
  tt.same([b.next(), b.next(), b.next(), b.next()], [100, 200, 400, 400]);
  tt.equal(backoffFrom(o, o.mqttReconnectMaxMs).ceilingMs, 100, 'MQTT caps the broker reconnect separately');
  tt.equal(resolveOptions({}).mqttReconnectMaxMs, 5000, 'default broker reconnect cap');
  for (const f of ['redial.ts', 'mqtt-transport.ts']) {
    const src = readFileSync(new URL(`../agent/transport/${f}`, import.meta.url), 'utf8');
    tt.match(src, /backoffFrom\(/, `${f} uses backoffFrom`);
    tt.notMatch(src, /Math\.random|2 \*\*/, `${f} has no backoff arithmetic of its own`);
  }
});

/**
 * How the fuzzer's report reads the live layer's heap (bench/chaos-v2-fuzz-report.ts): growth
 * that goes with the engines is state they held, growth that stays is a leak, and readings
 * without a forced GC are not interpreted at all.
 */
import t from 'tap';
import { heapLine } from '../bench/chaos-v2-fuzz-report.js';

const base = { heap_gc_forced: true, heap_before_mb: 10, heap_mb_by_quarter: [70, 130, 190, 250], heap_after_mb: 258, heap_growth_mb: 248 };

t.test('growth released with the engines is held state, not a leak', async (t) => {
  const s = heapLine({ ...base, heap_after_layer_mb: 11.5, heap_retained_mb: 1.5 });
  t.match(s, /after a forced GC/);
  t.match(s, /70, 130, 190, 250 MB after each quarter/);
  t.match(s, /went with the engines \(1\.5 MB stayed\)/);
  t.notMatch(s, /a leak\./);
});

t.test('growth still there after the engines are gone is a leak', async (t) => {
  t.match(heapLine({ ...base, heap_after_layer_mb: 200, heap_retained_mb: 190 }), /190 MB of it stayed after the engines were gone: a leak\./);
});

t.test('the few MB any run keeps (code, modules) are not called a leak in a short run', async (t) => {
  t.match(heapLine({ ...base, heap_growth_mb: 5.1, heap_after_layer_mb: 11.4, heap_retained_mb: 1.4 }), /went with the engines/);
});

t.test('without a forced GC the readings are given but not interpreted', async (t) => {
  const s = heapLine({ ...base, heap_gc_forced: false, heap_after_layer_mb: 200, heap_retained_mb: 190 });
  t.match(s, /no forced GC was available/);
  t.notMatch(s, /leak|went with/);
});

/**
 * The peer comparison's pieces that can be checked without timing (bench/yjs.ts, bench/run.ts's
 * miss distance, bench/peers-report.ts): Yjs's sync converges and is counted as y-protocols
 * frames it, and a missed target says by how much.
 */
import t from 'tap';
import { peersSection } from '../bench/peers-report.js';
import { missBy } from '../bench/run.js';
import { syncMessageBytes, yjsSync } from '../bench/yjs.js';

t.test('a y-protocols sync message is type + varuint length + body', async (t) => {
  t.equal(syncMessageBytes(new Uint8Array(0)), 2);
  t.equal(syncMessageBytes(new Uint8Array(127)), 129, 'a 1-byte length up to 127');
  t.equal(syncMessageBytes(new Uint8Array(128)), 131, 'a 2-byte length from 128');
  t.equal(syncMessageBytes(new Uint8Array(16384)), 16388, 'a 3-byte length from 2^14');
});

t.test('Yjs cold sync: one round trip, every payload byte moved once, converged', async (t) => {
  const c = yjsSync(40, false);
  t.equal(c.roundTrips, 1);
  t.ok(c.bytes >= 40 * 100, `carries the payloads (${c.bytes} bytes)`);
  t.ok(c.bytes < 40 * 130, 'and not much more: one item header each, two state vectors');
  t.ok(c.updateV2Bytes > 40 * 100 && c.updateV2Bytes <= c.bytes, 'format v2 is no larger');
});

t.test('Yjs concurrent sync moves only the new halves', async (t) => {
  const c = yjsSync(40, true);
  t.ok(c.bytes >= 20 * 100 && c.bytes < 20 * 130, `20 new commands' worth (${c.bytes} bytes)`);
});

t.test('a missed target says by how much; a met one says nothing', async (t) => {
  t.equal(missBy('automerge.bytes_ratio', 2.146), 'by 1.146 (2.15× the limit)');
  t.equal(missBy('serial.payload_efficiency', 0.4), 'by 0.4 (0.50 of the target)');
  t.equal(missBy('fleet.foreign_commands_received', 3), 'by 3');
  t.equal(missBy('automerge.bytes_ratio', 0.9), '');
  t.equal(missBy('no.such.figure', 5), '');
});

t.test('the peer section renders from the figures, and is absent without them', async (t) => {
  t.equal(peersSection({}), '');
  const r: Record<string, number> = {
    'automerge.commands': 2000,
    'automerge.cold.syncwire_bytes': 441155,
    'automerge.cold.syncwire_command_bytes': 433912,
    'automerge.cold.automerge_bytes': 205548,
    'yjs.cold.yjs_bytes': 217902,
    'automerge.bytes_ratio': 2.146,
    'yjs.bytes_ratio': 2.025,
  };
  const md = peersSection(r);
  t.match(md, /\| cold, 2,000: bytes \| 441,155 \| 205,548 \| 217,902 \| 2\.146 \| 2\.025 \|/);
  t.match(md, /220\.5 bytes a command on the wire, against 216\.8 for the\ncanonical/, 'per command, the genesis counted');
  t.match(md, /3\.6 more a command are poll requests/, 'the envelopes when the wire is larger');
  t.match(peersSection({ ...r, 'automerge.cold.syncwire_bytes': 353725 }), /compact batches send 40\.1 fewer/, 'the saving when it is smaller');
});

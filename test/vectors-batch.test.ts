/**
 * docs/vectors/batch.json checked against protocol/ (PROTOCOL.md §10.7) without its generator:
 * every batch decodes to the stated commands (ids, unsigned encodings, signatures; a signed one
 * is exactly the stated command's encoding), re-encodes byte for byte from the stated input, the
 * receiver's verification plan and the verdict per command are the stated ones (signatures
 * really verified), every reject is refused for the stated reason, and the `PollResponse`
 * carries the run batch as field 9.
 */
import t from 'tap';
import { coverBatch } from '../protocol/batch-cover.js';
import { planVerify } from '../protocol/batch-verify.js';
import { decodeCommandV2, verifyCommandV2 } from '../protocol/command-v2.js';
import { commandBytesOf, decodeBatch, encodeBatch, unsignedOfBatchCommand } from '../protocol/compact-batch.js';
import { MAX_FRAME_BYTES } from '../protocol/constants.js';
import { decodeMessageV2 } from '../protocol/envelope-v2.js';
import { fingerprint } from '../protocol/command.js';
import { fromHex, toHex } from '../protocol/keys.js';
import { loadVectors, reasonOf } from '../testkit/vectors.js';

interface BatchFile {
  identities: { A: string; B: string };
  scope_id: string;
  commands: Record<string, { id: string; encoding: string }>;
  batches: Array<{
    name: string; bytes: string;
    input: Array<{ command: string; elided: boolean; signature_altered?: boolean }>;
    rebuilt: Array<{ id: string; unsigned: string; signature: string | null }>;
    verify: number[];
    outcome: (string | null)[];
  }>;
  rejects: Array<{ name: string; bytes: string; reason: string }>;
  poll_response_batch: { bytes: string };
}

const v = loadVectors<BatchFile>('batch.json');
const scope = fromHex(v.scope_id);
const keys = new Map([v.identities.A, v.identities.B].map((k) => [toHex(fingerprint(fromHex(k))), fromHex(k)]));
const cmd = (n: string) => decodeCommandV2(n === 'g' ? null : scope, fromHex(v.commands[n]!.encoding));

t.test('the commands are what the file says', async (t) => {
  for (const [n, c] of Object.entries(v.commands)) t.equal(toHex(cmd(n).id), c.id, n);
  t.equal(toHex(cmd('g').id), v.scope_id, 'the scope id is the genesis id');
});

for (const b of v.batches) {
  t.test(b.name, async (t) => {
    const bytes = fromHex(b.bytes);
    const rebuilt = decodeBatch(scope, bytes, MAX_FRAME_BYTES);
    t.same(rebuilt.map((r) => ({ id: toHex(r.id), unsigned: toHex(unsignedOfBatchCommand(r)), signature: r.signature === null ? null : toHex(r.signature) })), b.rebuilt, 'rebuilt commands');
    b.input.forEach((x, k) => {
      t.equal(toHex(rebuilt[k]!.id), v.commands[x.command]!.id, `${x.command}: its id`);
      if (!x.elided && x.signature_altered !== true) t.equal(toHex(commandBytesOf(rebuilt[k]!)), v.commands[x.command]!.encoding, `${x.command}: its exact encoding`);
      t.equal(rebuilt[k]!.signature === null, x.elided, `${x.command}: elided as stated`);
    });
    const inputs = b.input.map((x) => {
      const c = cmd(x.command);
      return { command: x.signature_altered === true ? { ...c, signature: Uint8Array.from(c.signature, (y, i) => (i === 0 ? y ^ 1 : y)) } : c, elide: x.elided };
    });
    t.equal(toHex(encodeBatch(inputs)), b.bytes, 'encodes byte for byte');
    t.same(planVerify(rebuilt), b.verify, 'the signatures a receiver verifies');
    const ok = (k: number): boolean => {
      const r = rebuilt[k]!;
      return r.signature !== null && verifyCommandV2({ ...r, signature: r.signature, bytes: commandBytesOf(r) }, keys.get(toHex(r.author))!);
    };
    t.same(coverBatch(rebuilt, ok), b.outcome, 'the verdict per command');
  });
}

t.test('rejects', async (t) => {
  for (const r of v.rejects) t.equal(reasonOf(() => decodeBatch(scope, fromHex(r.bytes), MAX_FRAME_BYTES)), r.reason, r.name);
});

t.test('a PollResponse carries the batch as field 9', async (t) => {
  const m = decodeMessageV2(fromHex(v.poll_response_batch.bytes));
  t.equal(m.type, 'PollResponse');
  if (m.type === 'PollResponse') t.equal(toHex(m.batch!), v.batches.find((b) => b.name === 'run')!.bytes);
});

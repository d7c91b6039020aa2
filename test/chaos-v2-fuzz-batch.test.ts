/**
 * Layer 2c of the v2 fuzzer (bench/chaos-v2-fuzz-batch.ts): the genuine batches authenticate
 * exactly their commands, and mutated ones through the whole pure path of a receiver throw only
 * typed errors and never authenticate a command that was not signed.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { coverOutcome, planVerify } from '../protocol/batch-verify.js';
import { signatureMessage } from '../protocol/command-v2.js';
import { decodeBatch } from '../protocol/compact-batch.js';
import { generateIdentity, verifySignature } from '../protocol/keys.js';
import { Prng, xorshift32 } from '../testkit/prng.js';
import { batchCorpusV2, batchLayerV2 } from '../bench/chaos-v2-fuzz-batch.js';

const a = generateIdentity();
const b = generateIdentity();
const scopeId = new Uint8Array(randomBytes(32));
const corpus = batchCorpusV2(scopeId, a, b, new Prng(xorshift32(7)));

t.test('the corpus: every batch decodes; signed and run-elided ones authenticate all of them', async (t) => {
  t.equal(corpus.commands.length, 10);
  const keyOf = (author: Uint8Array) => [a, b].find((x) => Buffer.compare(x.author, author) === 0)!.publicKey;
  for (const [i, bytes] of corpus.batches.entries()) {
    const cmds = decodeBatch(scopeId, bytes, 65536);
    const verdicts = new Map(planVerify(cmds).map((k) => [k, verifySignature(keyOf(cmds[k]!.author), signatureMessage(cmds[k]!.id), cmds[k]!.signature!)]));
    const ok = coverOutcome(cmds, verdicts).filter((x) => x === null).length;
    if (i === 0 || i === 1) t.equal(ok, cmds.length, `batch ${i}: all authenticated`);
    if (i === 3) t.equal(ok, 0, 'no signature at all: nothing authenticated');
    if (i === 0) t.ok(cmds.every((c) => c.signature !== null), 'batch 0: every signature');
    if (i === 1 || i === 2) t.ok(cmds.some((c) => c.signature === null), `batch ${i}: elided signatures`);
    if (i === 3) t.ok(cmds.every((c) => c.signature === null), 'batch 3: none');
  }
});

t.test('mutated batches: typed errors only, no forgery authenticated', async (t) => {
  const tally = { inputs: 0, crashes: 0, untyped: 0, hangs: 0, slowestMs: 0, samples: [] as string[] };
  const r = await batchLayerV2(new Prng(xorshift32(11)), scopeId, corpus, [a.publicKey, b.publicKey], 3000, tally);
  t.equal(r.inputs, 3000);
  t.equal(tally.untyped, 0, `no untyped error ${tally.samples.join(' | ')}`);
  t.equal(r.forgeries, 0, 'no command outside the genuine ones authenticated');
  t.ok(r.decoded > 0 && r.authenticated > 0, `some mutations still decode (${r.decoded}) and authenticate genuine commands (${r.authenticated})`);
  t.ok((r.reasons.Malformed ?? 0) > 0, 'most are refused as Malformed');
});

/**
 * Compact batches in the protocol-v2 fuzzer (issue 17; PROTOCOL.md §10.7): a corpus of genuine
 * batches (two authors, a merge, with and without elided `null` signatures, as runs and as plain
 * entries) and layer 2c, which mutates them — bare, and as the `batch` field of a `PollResponse`
 * or a `Push` — and runs a receiver's whole pure path on each: the message decoder, `decodeBatch`,
 * the verify plan, the real signature checks of the planned covers and the cover outcome. Every
 * rejection must be a typed SyncwireError, and no command the outcome authenticates may be one
 * that was never signed (a forgery through a cover).
 */
import { planVerify, coverOutcome } from '../protocol/batch-verify.js';
import { fingerprint } from '../protocol/command.js';
import { encodeCommandV2, signatureMessage, type SignedCommandV2 } from '../protocol/command-v2.js';
import { decodeBatch, encodeBatch } from '../protocol/compact-batch.js';
import { CommandKind } from '../protocol/constants-v2.js';
import { decodeMessageV2, encodeMessageV2 } from '../protocol/envelope-v2.js';
import { SyncwireError } from '../protocol/errors.js';
import { toHex, verifySignature, type Identity } from '../protocol/keys.js';
import { hostile, mutate } from '../testkit/fuzz-inputs.js';
import type { Prng } from '../testkit/prng.js';
import type { Tally } from './chaos-v2-fuzz-sealed.js';

/** Genuine commands of one scope and compact batches of them. */
export interface BatchCorpus {
  /** In causal order: a chain of 6 by the first author, 3 by the second on it, a merge by the first. */
  commands: SignedCommandV2[];
  /** Encoded batches (the `batch` field's bytes): all signed, runs elided, everything elided, random. */
  batches: Uint8Array[];
}

/** Largest batch body decoded (a frame's worth). */
const MAX_BATCH = 65536;

/**
 * Build the corpus for `scopeId` (whose genesis id is the scope id) by authors `a` and `b`.
 * `rnd` picks the elided signatures of the random batches.
 */
export function batchCorpusV2(scopeId: Uint8Array, a: Identity, b: Identity, r: Prng): BatchCorpus {
  const commands: SignedCommandV2[] = [];
  const add = (by: Identity, parents: Uint8Array[], seq: number): SignedCommandV2 => {
    const c = encodeCommandV2(scopeId, { parents, author: fingerprint(by.publicKey), seq, kind: CommandKind.Data, payload: r.bytes(8 + r.int(60)) }, by.sign);
    commands.push(c);
    return c;
  };
  let last = scopeId;
  for (let i = 1; i <= 6; i++) last = add(a, [last], i).id;
  const aTip = last;
  for (let i = 1; i <= 3; i++) last = add(b, [last], i).id;
  add(a, [aTip, last].sort((x, y) => Buffer.compare(x, y)), 7);
  const n = commands.length;
  const flags = (f: (i: number) => boolean) => encodeBatch(commands.map((command, i) => ({ command, elide: f(i) })));
  const batches = [
    flags(() => false), // every signature
    flags((i) => i < 5 || (i > 5 && i < 8)), // each author's chain one run, its cover last
    flags((i) => i !== n - 1), // everything but the merge elided: one cover for b's commands missing
    flags(() => true), // no signature at all
    ...Array.from({ length: 4 }, () => flags(() => r.chance(0.5))),
    encodeBatch(commands.slice(6).map((command) => ({ command, elide: false }))), // external parents only
  ];
  return { commands, batches };
}

/** What layer 2c saw. */
export interface BatchLayerResult {
  inputs: number;
  /** Inputs whose batch decoded (they reached the verify plan and the cover outcome). */
  decoded: number;
  /** Commands the outcome authenticated. */
  authenticated: number;
  /** Authenticated commands that are not genuine: must be 0. */
  forgeries: number;
  /** Typed rejections by reason. */
  reasons: Record<string, number>;
}

/**
 * Layer 2c: `n` mutated batches through a receiver's pure path. Crashes, untyped errors and slow
 * inputs go to `t` as in the other layers.
 */
export async function batchLayerV2(r: Prng, scopeId: Uint8Array, corpus: BatchCorpus, keys: readonly Uint8Array[], n: number, t: Tally): Promise<BatchLayerResult> {
  const out: BatchLayerResult = { inputs: 0, decoded: 0, authenticated: 0, forgeries: 0, reasons: {} };
  const genuine = new Set(corpus.commands.map((c) => toHex(c.id)));
  const keyOf = new Map(keys.map((k) => [toHex(fingerprint(k)), k]));
  for (let i = 0; i < n; i++) {
    if (i % 500 === 0) await new Promise((res) => setImmediate(res)); // let the watchdog run
    const seed = r.pick(corpus.batches);
    const body = r.chance(0.8) ? mutate(r, seed, corpus.batches) : hostile(r.random, corpus.batches);
    const wrap = r.int(3); // 0: bare, 1: PollResponse.batch, 2: Push.batch
    out.inputs++;
    const s = performance.now();
    try {
      let batch = body;
      if (wrap > 0) {
        // The frame mutated, not only its batch: a body that no longer decodes as a message is refused there.
        const msg = wrap === 1
          ? encodeMessageV2({ type: 'PollResponse', scope: 0, session: 1, more: false, gap: false, total: 10, next_poll_ms: 100, heads: [], items: [], batch: seed })
          : encodeMessageV2({ type: 'Push', scope: 0, remaining: 1000, exhausted: false, commands: [], batch: seed });
        const m = decodeMessageV2(r.chance(0.5) ? mutate(r, msg, [msg]) : msg);
        if ((m.type !== 'PollResponse' && m.type !== 'Push') || m.batch === undefined || m.batch === null) continue;
        batch = r.chance(0.5) ? m.batch : body;
      }
      const cmds = decodeBatch(scopeId, batch, MAX_BATCH);
      out.decoded++;
      const verdicts = new Map<number, boolean>();
      for (const k of planVerify(cmds)) {
        const c = cmds[k]!;
        const key = keyOf.get(toHex(c.author));
        verdicts.set(k, key !== undefined && c.signature !== null && verifySignature(key, signatureMessage(c.id), c.signature));
      }
      coverOutcome(cmds, verdicts).forEach((fail, k) => {
        if (fail !== null) return;
        out.authenticated++;
        if (!genuine.has(toHex(cmds[k]!.id))) out.forgeries++;
      });
    } catch (err) {
      if (err instanceof SyncwireError) out.reasons[err.reason] = (out.reasons[err.reason] ?? 0) + 1;
      else {
        t.untyped++;
        if (t.samples.length < 5) t.samples.push(`untyped from the batch path (${Buffer.from(body.subarray(0, 40)).toString('hex')}): ${String(err)}`);
      }
    }
    const d = performance.now() - s;
    if (d > t.slowestMs) t.slowestMs = d;
    if (d > 1000) t.hangs++;
  }
  return out;
}

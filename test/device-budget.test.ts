/**
 * The exact byte budgets shared by the agent and the device (protocol/budget.ts) against the real
 * CBOR encoder, and the device's poll answers (RingResponder) against them: what fits is encoded
 * within the budget, one command more would not be, and `error-message.ts` keeps an `Error`
 * within its schema.
 */
import t from 'tap';
import fc from 'fast-check';
import {
  MAX_ERROR_TEXT, MIN_POLL_BYTES, decodeMessage, encodeCbor, encodeCommand, encodeMessage, generateIdentity,
  type CborValue,
} from '../protocol/index.js';
import { ListFit, byteStringSize, fitWithin } from '../protocol/budget.js';
import { cborHeadLength } from '../protocol/cbor.js';
import { errorMessage } from '../protocol/error-message.js';
import { CommandRing, RingResponder } from '../firmware-sim/device/index.js';

/** Sizes around every CBOR head boundary (1, 2, 3 and 5-byte heads). */
const length = fc.oneof(fc.integer({ min: 1, max: 300 }), fc.constantFrom(23, 24, 255, 256, 1024, 65535, 65536));

/** A message-like envelope: a few leading fields, then the byte-string list. */
const envelope: fc.Arbitrary<CborValue[]> = fc.array(fc.oneof(fc.integer({ min: 0, max: 1e6 }), fc.boolean(), fc.constant(null)), { maxLength: 5 });

t.test('cborHeadLength is the encoder\'s head size', async (tt) => {
  fc.assert(
    fc.property(fc.oneof(fc.integer({ min: 0, max: 2 ** 53 - 1 }), fc.constantFrom(0, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32)), (n) => {
      tt.equal(cborHeadLength(n), encodeCbor(n).length);
    }),
  );
  tt.equal(byteStringSize(300), encodeCbor(new Uint8Array(300)).length);
});

t.test('fitWithin takes the longest prefix whose encoding stays within the limit', async (tt) => {
  fc.assert(
    fc.property(envelope, fc.array(length, { maxLength: 40 }), fc.integer({ min: 0, max: 4000 }), (head, lengths, slack) => {
      const strings = lengths.map((n) => new Uint8Array(n));
      const size = (k: number): number => encodeCbor([...head, strings.slice(0, k)]).length;
      const env = size(0) - 1;
      const limit = env + 1 + slack;
      const end = fitWithin(env, limit, (i) => lengths[i]!, 0, lengths.length);
      if (size(end) > limit) return false;
      if (end < lengths.length && size(end + 1) <= limit) return false;
      const fit = new ListFit(env, limit);
      for (let i = 0; i < end; i++) fit.take(lengths[i]!);
      return fit.size === size(end) && fit.count === end;
    }),
    { numRuns: 300 },
  );
});

t.test('ListFit.take skips nothing: the first command that does not fit ends the list', async (tt) => {
  const fit = new ListFit(10, 10 + 1 + byteStringSize(30));
  tt.ok(fit.fits(30));
  tt.notOk(fit.take(31), 'one byte too many');
  tt.ok(fit.take(30));
  tt.notOk(fit.take(1), 'full');
  tt.equal(fit.count, 1);
});

const payloadSizes = fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 24 });

t.test('the device answers polls within max_bytes, and never stops short of what fits', async (tt) => {
  const author = generateIdentity();
  fc.assert(
    fc.property(payloadSizes, fc.integer({ min: MIN_POLL_BYTES, max: 3000 }), (sizes, maxBytes) => {
      const ring = new CommandRing(32);
      let parent: Uint8Array | null = null;
      for (let i = 0; i < sizes.length; i++) {
        const parents = parent === null ? [] : [parent];
        const cmd = encodeCommand({ parents, author: author.author, seq: i + 1, payload: new Uint8Array(sizes[i]!) }, author.sign);
        ring.push(cmd.id, cmd.bytes);
        parent = cmd.id;
      }
      const res = new RingResponder(ring).answer({ type: 'PollRequest', session: 1, heads: [], sample: [], max_bytes: maxBytes }, maxBytes, 1000);
      const body = encodeMessage(res);
      if (body.length > maxBytes) return false;
      const sent = res.commands.length;
      // Oldest first, and the next one would have broken the budget (the advisory head gives
      // way only to the first command: §8.1 step 6).
      if (!res.more) return sent === ring.count;
      const next = { ...res, commands: [...res.commands, ring.bytesAt(sent)] };
      return encodeMessage(next).length > maxBytes && decodeMessage(body).type === 'PollResponse';
    }),
    { numRuns: 100 },
  );
});

t.test('errorMessage cuts its text to MAX_ERROR_TEXT and keeps it encodable', async (tt) => {
  const long = '😀'.repeat(MAX_ERROR_TEXT); // 2 UTF-16 units each: the cut falls inside a pair
  const cut = errorMessage('Malformed', 'x' + long);
  tt.equal(cut.message.length, MAX_ERROR_TEXT);
  tt.ok(cut.message.isWellFormed());
  tt.same(decodeMessage(encodeMessage(cut)), cut);
  tt.same(errorMessage('Busy', 'later', 250), { type: 'Error', code: 7, message: 'later', retry_after_ms: 250 });
  tt.equal(errorMessage('Closed', 'bye').retry_after_ms, null);
});

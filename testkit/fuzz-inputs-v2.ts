/**
 * Hostile protocol-v2 inputs for the v2 engine fuzz (test/engine-v2-fuzz.test.ts): a hand-built
 * v2 `Hello`/`Auth` on `protocol/` alone (so a test can be the peer without an engine), and
 * structure-aware bad messages of every v2 type around one scope a link has open — unknown
 * numbers, lying fields, garbage items, horizon records at depth 2^31, commands of another scope,
 * and (given genuine batches of the scope) compact batches as they are or mutated.
 * Everything is drawn from a {@link Prng}, so a seed gives the same inputs every run.
 */
import { randomBytes } from 'node:crypto';
import { encodeBarePushV2 } from '../protocol/bare-push-v2.js';
import { encodeCbor, type CborValue } from '../protocol/cbor.js';
import { fingerprint } from '../protocol/command.js';
import { encodeCommandV2 } from '../protocol/command-v2.js';
import { Capability, NONCE_BYTES } from '../protocol/constants.js';
import { MAX_TRAIN_BYTES, PROTOCOL_VERSION_2, SEGMENT_BYTES } from '../protocol/constants-v2.js';
import { encodeMessageV2 } from '../protocol/envelope-v2.js';
import { MessageTypeV2 } from '../protocol/message-type-v2.js';
import type { Identity } from '../protocol/keys.js';
import type { MessageV2, PollRequest } from '../protocol/messages-v2.js';
import { authTranscriptV2, ephemeralFromSecret } from '../protocol/seal.js';
import { mutate, randomCbor } from './fuzz-inputs.js';
import type { Prng } from './prng.js';

/**
 * An unsealed v2 `Hello` of `me` (caps `Push | BareCommand`, no `Seal`, an ephemeral key all the
 * same since v2 requires one). `version` defaults to 2.
 */
export function helloV2(me: Identity, version = PROTOCOL_VERSION_2): Uint8Array {
  return encodeMessageV2({
    type: 'Hello', version, public_key: me.publicKey, max_frame: 65536, caps: Capability.Push | Capability.BareCommand,
    nonce: new Uint8Array(randomBytes(NONCE_BYTES)), ephemeral: ephemeralFromSecret(new Uint8Array(randomBytes(32))).publicKey,
  });
}

/**
 * A protocol-1 `Hello` of `me` as a v1 agent sends it, built here from the wire layout (the same
 * array as v2's with `version` 1; PROTOCOL.md §7.1) so that version-refusal tests need no v1
 * code: caps `Push | BareCommand` (and `Seal` when `seal`), with an ephemeral key unless
 * `legacy` (a peer older than sealing).
 */
export function helloV1(me: Identity, o: { seal?: boolean; legacy?: boolean } = {}): Uint8Array {
  const caps = Capability.Push | Capability.BareCommand | (o.seal === true ? Capability.Seal : 0);
  const nonce = new Uint8Array(randomBytes(NONCE_BYTES));
  const fields: CborValue[] = [MessageTypeV2.Hello, 1, me.publicKey, 65536, caps, nonce];
  if (o.legacy !== true) fields.push(ephemeralFromSecret(new Uint8Array(randomBytes(32))).publicKey);
  return encodeCbor(fields);
}

/** `me`'s `Auth` answering `peerHello` (the peer's exact bytes), given `myHello` as sent. */
export function authV2(me: Identity, myHello: Uint8Array, peerHello: Uint8Array): Uint8Array {
  return encodeMessageV2({ type: 'Auth', signature: me.sign(authTranscriptV2(peerHello, myHello)) });
}

/** What the hostile messages are built around: one scope open on the link. */
export interface V2FuzzContext {
  /** The receiver's (engine's) number for the scope. */
  number: number;
  /** The scope's id and name. */
  scopeId: Uint8Array;
  name: string;
  /** Genuine command encodings of the scope (replays are legitimate; mutations are not). */
  commands: Uint8Array[];
  /** The sender, to sign commands of another scope with. */
  me: Identity;
  /**
   * Genuine compact batches of the scope (protocol/compact-batch.ts, with or without elided
   * signatures): when given, a `PollResponse` or `Push` carries one as its `batch` half the time,
   * itself or mutated. Absent: no batch, and the same draws as before batches existed.
   */
  batches?: Uint8Array[];
}

/** Half the time (when `ctx` has batches) a `batch` field: a genuine batch of the scope or a mutated one. */
function batchField(r: Prng, ctx: V2FuzzContext): { batch?: Uint8Array } {
  const pool = ctx.batches ?? [];
  if (pool.length === 0 || !r.chance(0.5)) return {};
  const b = r.pick(pool);
  return { batch: r.chance(0.5) ? b : mutate(r, b, pool) };
}

const ids = (r: Prng, n: number): Uint8Array[] => Array.from({ length: n }, () => r.bytes(32));

/** A number that is probably not open: random, or one past, or the largest ones. */
function badNumber(r: Prng, ctx: V2FuzzContext): number {
  return r.pick([r.u32(), ctx.number + 1 + r.int(100), 65535, 0xffffffff, r.int(16)]);
}

/** A garbage item: random bytes or CBOR, a record of depth 2^31, a command of another scope, a genuine one cut. */
function garbageItem(r: Prng, ctx: V2FuzzContext): Uint8Array {
  const real = ctx.commands.length > 0 ? r.pick(ctx.commands) : Uint8Array.of(0x86);
  switch (r.int(7)) {
    case 0:
      return Uint8Array.of(r.pick([0x86, 0x83]), ...r.bytes(1 + r.int(80)));
    case 1:
      return randomCbor(r, 3);
    case 2: // a horizon record of depth 2^31 (§2.6: below 2^31), or 2^31 − 1 with a bogus frontier
      return encodeCbor([r.pick([r.bytes(32), ...(ctx.commands.length > 0 ? [new Uint8Array(32)] : [])]), r.chance(0.7) ? 2 ** 31 : 2 ** 31 - 1, ids(r, r.int(3))]);
    case 3:
      return otherScopeCommand(r, ctx);
    case 4:
      return real.subarray(0, Math.max(1, r.int(real.length)));
    case 5:
      return mutate(r, real, ctx.commands);
    default:
      return real;
  }
}

/** A well-signed command of another scope (random scope id and parents). */
export function otherScopeCommand(r: Prng, ctx: V2FuzzContext): Uint8Array {
  return encodeCommandV2(r.bytes(32), { parents: ids(r, 1 + r.int(2)), author: fingerprint(ctx.me.publicKey), seq: r.int(5), kind: r.pick([0, 2] as const), payload: r.bytes(r.int(40)) }, (m) => ctx.me.sign(m)).bytes;
}

/** One hostile v2 message (decoded form; its encoding is valid CBOR of a valid schema). */
export function hostileMessageV2(r: Prng, ctx: V2FuzzContext): MessageV2 {
  const n = r.chance(0.5) ? ctx.number : badNumber(r, ctx);
  const items = (): Uint8Array[] => Array.from({ length: r.int(5) }, () => garbageItem(r, ctx));
  switch (r.int(10)) {
    case 0: // Scopes with bad entries: unknown ids, the open scope under a second number, reused numbers, unknown closes
      return {
        type: 'Scopes', seq: r.pick([r.u32(), 0, 1, r.int(4)]),
        open: Array.from({ length: r.int(4) }, () => [r.int(4) === 0 ? 65535 : r.int(12), r.chance(0.5) ? ctx.scopeId : r.bytes(32), r.chance(0.5) ? ctx.name : r.pick(['x', 'device/abc', 'fleet/other'])] as [number, Uint8Array, string]),
        close: Array.from({ length: r.int(4) }, () => r.int(r.chance(0.5) ? 12 : 65536)),
      };
    case 1:
      return { type: 'ScopesAck', seq: r.pick([r.u32(), 1 + r.int(5), 0]), refused: Array.from({ length: r.int(3) }, () => [r.int(65536), r.u32()] as [number, number]) };
    case 2:
    {
      const req: PollRequest = { type: 'PollRequest', scope: n, session: r.u32(), max_bytes: r.pick([0, 1, 511, 512, 4096, 0xffffffff]), heads: ids(r, r.int(4)), sample: ids(r, r.int(4)), window: r.pick([0, 1, r.u32()]) };
      // Fields 7–9: elide with trains and segments (a 4 GiB segment asks for one signature per answer).
      return r.chance(0.7) ? req : { ...req, elide: r.chance(0.8), train_bytes: r.pick([0, 1, MAX_TRAIN_BYTES]), segment: r.pick([SEGMENT_BYTES, SEGMENT_BYTES + 1, 65536, 0xffffffff]) };
    }
    case 3:
      return { type: 'Subscribe', scope: n, remain_open: r.pick([0, 1, 900, 0xffffffff]), max_bytes: r.pick([0, 1, 0xffffffff, r.u32()]), sample: ids(r, r.int(3)), via: Array.from({ length: r.int(3) }, () => r.bytes(8)) };
    case 4:
      return { type: 'PollResponse', scope: n, session: r.pick([0, 1, r.u32()]), more: r.chance(0.5), gap: r.chance(0.5), total: r.u32(), next_poll_ms: r.pick([0, r.u32()]), heads: ids(r, r.int(3)), items: items(), ...batchField(r, ctx) };
    case 5:
      return { type: 'Push', scope: n, remaining: r.pick([null, 0, r.u32()]), exhausted: r.chance(0.3), commands: items(), ...batchField(r, ctx) };
    case 6:
      return { type: 'SubscribeAck', scope: n, remain_open: r.u32(), max_bytes: r.u32() };
    case 7:
      return { type: 'Unsubscribe', scope: n };
    case 8:
      return { type: 'Error', code: r.pick([5, 6, 12, 15, r.u32()]), message: 'x', retry_after_ms: r.pick([null, 0, r.u32()]), scope: r.pick([null, n]) };
    default:
      return { type: 'Auth', signature: r.bytes(64) };
  }
}

/**
 * One hostile frame body after the handshake: a hostile message, a bare push under a random
 * number (often the wrong one) with a garbage or genuine command, a mutated encoding, or noise.
 */
export function hostileBodyV2(r: Prng, ctx: V2FuzzContext): Uint8Array {
  switch (r.int(6)) {
    case 0: {
      const item = garbageItem(r, ctx).subarray(0, 1024);
      const command = item.length >= 2 && item[0] === 0x86 ? item : otherScopeCommand(r, ctx);
      return encodeBarePushV2(command, r.chance(0.3) ? ctx.number : badNumber(r, ctx));
    }
    case 1:
      return mutate(r, encodeMessageV2(hostileMessageV2(r, ctx)), ctx.commands.length > 0 ? ctx.commands : [Uint8Array.of(0x80)]);
    case 2:
      return r.bytes(r.int(200));
    default:
      return encodeMessageV2(hostileMessageV2(r, ctx));
  }
}

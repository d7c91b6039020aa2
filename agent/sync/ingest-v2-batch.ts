/**
 * The compact-batch half of one scope's acceptance (PROTOCOL.md §10.7, design bulk-sync §3): a
 * `PollResponse.batch` is decoded, each author's covers (protocol/batch-verify.ts) are verified
 * under the author's key, and every command comes out as an ingest item. An authenticated command
 * carries the key its cover verified under (`coveredKey`): the rounds skip its own signature when
 * membership names the same key (steps 1–5 of acceptance still run for it). What is not
 * authenticated by cover but carries its own signature goes through the ordinary per-command
 * verification (a failed cover costs verifies, never a command); a covered command without a
 * signature whose cover failed is dropped (`Uncovered`, or `BadSignature` for the cover itself).
 * A host that takes elided signatures (engine setting `elide`) stores a covered command that came
 * without its signature as received, held with a `null` one (the held form of
 * protocol/command-v2.ts, which the batch decoder rebuilds); toward any other host a batch with a `null` signature is `Malformed` (it
 * never asked for one, C5).
 */
import { verifyCommandV2Async, type CommandV2 } from '../../protocol/command-v2.js';
import { decodeBatch, type BatchCommand } from '../../protocol/compact-batch.js';
import { coverOutcome, planVerify } from '../../protocol/batch-verify.js';
import { MAX_FRAME_BYTES } from '../../protocol/constants.js';
import { MalformedError, SyncwireError, type ReasonName } from '../../protocol/errors.js';
import { fingerprint } from '../../protocol/command.js';
import { CommandKind } from '../../protocol/constants-v2.js';
import { decodeGenesisBody } from '../../protocol/genesis.js';
import { toHex } from '../../protocol/keys.js';
import type { MembershipGraph } from '../../protocol/membership.js';
import { decodeMembershipBody, type Member } from '../../protocol/membership-body.js';
import type { Item } from './ingest-rounds.js';
import type { BatchVerify } from './ingest-v2-types.js';

/** What a batch gave the rounds, and what it refused before them. */
export interface BatchIntake {
  /** Commands for the rounds, in batch order. */
  items: Item[];
  /** Refusals before the rounds (a whole-batch refusal counts 1). */
  rejected: Partial<Record<ReasonName, number>>;
  /** Covered commands without a signature that no verified cover authenticated (dropped). */
  uncovered: number;
  /** Signatures verified here (the covers). */
  verified: number;
  /** Commands authenticated by a cover whose own signature was not verified. */
  coveredSkips: number;
  /** Commands left to the ordinary per-command verification (no cover: an author unknown to the view, or a failed cover). */
  selfChecked: number;
}

export type { BatchVerify } from './ingest-v2-types.js';

/**
 * Decode `bytes` for the scope of `graph` and authenticate its commands by cover. Never throws
 * for bad input: a batch that does not decode is refused whole (`Malformed` or `TooLarge`), as is
 * one with a `null` signature unless `elide` (this host asked for covered commands without their
 * signature and holds them so). With `verify` 'every', a signed command is checked on its own
 * even when covered; a held one can only be authenticated by its cover.
 */
export async function takeBatch(scopeId: Uint8Array, graph: MembershipGraph, bytes: Uint8Array, from: string, verify: BatchVerify, elide = false): Promise<BatchIntake> {
  const out: BatchIntake = { items: [], rejected: {}, uncovered: 0, verified: 0, coveredSkips: 0, selfChecked: 0 };
  let cmds: BatchCommand[];
  let held = false;
  try {
    cmds = decodeBatch(scopeId, bytes, MAX_FRAME_BYTES);
    held = cmds.some((c) => c.signature === null);
    if (held && !elide) throw new MalformedError('a covered command toward a requester that did not set elide');
  } catch (err) {
    const reason: ReasonName = err instanceof SyncwireError ? err.reason : 'Malformed';
    out.rejected[reason] = 1;
    return out;
  }
  if (verify === 'every' && !held) {
    for (const c of cmds) out.items.push({ cmd: asCommand(c), from });
    out.selfChecked = cmds.length;
    return out;
  }
  const plan = planVerify(cmds);
  const keyOf = authorKeys(graph, cmds);
  const planned = plan.filter((k) => keyOf(cmds[k]!) !== undefined);
  const oks = await Promise.all(planned.map((k) => verifyCommandV2Async(asCommand(cmds[k]!), keyOf(cmds[k]!)!)));
  out.verified = planned.length;
  const verdicts = new Map(planned.map((k, i) => [k, oks[i] === true]));
  const outcome = coverOutcome(cmds, verdicts);
  cmds.forEach((c, k) => {
    const why = outcome[k];
    if (why === null && c.signature !== null && !verdicts.has(k) && (verify === 'every' || elide)) {
      // A signature that came and was not checked as a cover is checked on its own: with 'every'
      // always, and on a host that takes commands held (it keeps no signature it did not check, a
      // relay may have put junk there); only the commands that came without one rely on the cover.
      out.items.push({ cmd: asCommand(c), from });
      out.selfChecked++;
    } else if (why === null) {
      if (!verdicts.has(k)) out.coveredSkips++;
      out.items.push({ cmd: asCommand(c), from, coveredKey: keyOf(c)! });
    } else if (verdicts.get(k) === false) {
      out.rejected.BadSignature = (out.rejected.BadSignature ?? 0) + 1;
    } else if (c.signature !== null) {
      out.items.push({ cmd: asCommand(c), from }); // not covered, but self-signed: verified on its own
      out.selfChecked++;
    } else {
      out.uncovered++; // held, and no verified cover: dropped (C3)
    }
  });
  return out;
}

/**
 * Candidate keys per author index: the key the author's fingerprint names in the current
 * membership view, else one a membership command of this batch names (a bootstrap's first batch
 * carries the genesis). A candidate only says which key to try a cover under: the rounds still
 * resolve each command's key at its own frontier and skip its signature only when that is the
 * same key (`coveredKey`), so a key a hostile batch names gains it nothing. An author with no
 * candidate gets no cover: its signed commands are verified one by one.
 */
function authorKeys(graph: MembershipGraph, cmds: readonly BatchCommand[]): (c: BatchCommand) => Uint8Array | undefined {
  const view = graph.view();
  let named: Map<string, Uint8Array> | undefined;
  const keys = new Map<number, Uint8Array | undefined>();
  return (c) => {
    if (keys.has(c.authorIndex)) return keys.get(c.authorIndex);
    let k = graph.authorKey(view, c.author);
    if (k === undefined) {
      named ??= keysNamedIn(cmds);
      k = named.get(toHex(c.author));
    }
    keys.set(c.authorIndex, k);
    return k;
  };
}

/** Fingerprint (hex) → public key of every member a genesis or membership command of the batch names (bodies that do not decode name none). */
function keysNamedIn(cmds: readonly BatchCommand[]): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const c of cmds) {
    let members: readonly Member[] = [];
    try {
      if (c.kind === CommandKind.Genesis) members = decodeGenesisBody(c.payload).members;
      else if (c.kind === CommandKind.Membership) members = decodeMembershipBody(c.payload).ops;
    } catch {
      continue;
    }
    for (const m of members) out.set(toHex(fingerprint(m.publicKey)), m.publicKey);
  }
  return out;
}

/** A rebuilt command as a {@link CommandV2}: held (signature null, as received) when it came without its signature. */
function asCommand(c: BatchCommand): CommandV2 {
  return { parents: c.parents, author: c.author, seq: c.seq, kind: c.kind, payload: c.payload, id: c.id, signature: c.signature, bytes: c.bytes };
}

/**
 * What the protocol-v2 soak measures of compact batches and elided signatures (PROTOCOL.md §10.7,
 * issue 17): the batches an engine's scopes took in (summed over restarts by the caller, since a
 * reopened engine counts from 0), and an audit of every command an engine stores — held without
 * its signature (`null`, only a host with `elide` may have them) or signed, and then whether the
 * signature verifies under its author's key.
 */
import type { EngineV2 } from '../agent/sync/engine-v2.js';
import type { IngestV2Stats } from '../agent/sync/ingest-v2-types.js';
import { fingerprint } from '../protocol/command.js';
import { decodeHeldCommandV2, verifyCommandV2 } from '../protocol/command-v2.js';
import { toHex } from '../protocol/keys.js';

/** Batch counters of one engine's scope ingests (IngestV2Stats.batches), summed. */
export type BatchTally = IngestV2Stats['batches'];

/** A tally of zeros. */
export const emptyTally = (): BatchTally => ({ received: 0, commands: 0, verified: 0, coveredSkips: 0, selfChecked: 0, uncovered: 0 });

/** `into` += `more`, field by field; returns `into`. */
export function addTally(into: BatchTally, more: Readonly<BatchTally>): BatchTally {
  for (const k of Object.keys(into) as (keyof BatchTally)[]) into[k] += more[k];
  return into;
}

/** The batch counters of every scope `e` holds now, summed (zeros for a closed engine). */
export function batchTallyOf(e: EngineV2 | null): BatchTally {
  const out = emptyTally();
  for (const s of e?.scopes() ?? []) {
    const h = e!.scope(s.name);
    if (h !== undefined) addTally(out, h.ingest.stats.batches);
  }
  return out;
}

/** What {@link auditSignatures} found in one engine's stores. */
export interface SignatureAudit {
  /** Retained commands stored with a signature. */
  signed: number;
  /** Retained commands held without one (`signature: null`). */
  held: number;
  /** Signed commands whose signature does not verify under the author's key. */
  bad: number;
  /** Signed commands whose author is none of the keys given (not verifiable here). */
  unknownAuthor: number;
  /** Stored bodies that do not decode at all. */
  undecodable: number;
}

/** An audit of zeros. */
const emptyAudit = (): SignatureAudit => ({ signed: 0, held: 0, bad: 0, unknownAuthor: 0, undecodable: 0 });

/** Fingerprint (hex) → public key, for {@link auditSignatures}. */
export function keysByAuthor(publicKeys: readonly Uint8Array[]): Map<string, Uint8Array> {
  return new Map(publicKeys.map((k) => [toHex(fingerprint(k)), k]));
}

/**
 * Read every retained command of every scope `e` holds (its exact stored bytes), count the held
 * ones and verify the signed ones. Synchronous and O(commands) verifies: for the end of a run.
 */
export function auditSignatures(e: EngineV2 | null, keys: ReadonlyMap<string, Uint8Array>): SignatureAudit {
  const out = emptyAudit();
  for (const _ of auditSteps(e, keys, out));
  return out;
}

/**
 * {@link auditSignatures} giving the event loop back every `every` commands (default 200), for a
 * harness whose event-loop watchdog must see the agent's stalls, not its own audit's.
 */
export async function auditSignaturesYielding(e: EngineV2 | null, keys: ReadonlyMap<string, Uint8Array>, every = 200): Promise<SignatureAudit> {
  const out = emptyAudit();
  let n = 0;
  for (const _ of auditSteps(e, keys, out)) if (++n % every === 0) await new Promise((r) => setImmediate(r));
  return out;
}

/** Audit one command per step into `out`. */
function* auditSteps(e: EngineV2 | null, keys: ReadonlyMap<string, Uint8Array>, out: SignatureAudit): Generator<void> {
  for (const s of e?.scopes() ?? []) {
    const store = e!.scope(s.name)?.store;
    if (store === undefined) continue;
    for (let i = 0; i < store.size; i++) {
      if (!store.isRetained(i)) continue;
      yield;
      let cmd;
      try {
        cmd = decodeHeldCommandV2(store.scopeId, store.bytesOf(i));
      } catch {
        out.undecodable++;
        continue;
      }
      if (cmd.signature === null) {
        out.held++;
        continue;
      }
      out.signed++;
      const key = keys.get(toHex(cmd.author));
      if (key === undefined) out.unknownAuthor++;
      else if (!verifyCommandV2(cmd, key)) out.bad++;
    }
  }
}

/** Audits summed (e.g. over the agents). */
export function addAudits(xs: readonly SignatureAudit[]): SignatureAudit {
  const out = emptyAudit();
  for (const x of xs) for (const k of Object.keys(out) as (keyof SignatureAudit)[]) out[k] += x[k];
  return out;
}

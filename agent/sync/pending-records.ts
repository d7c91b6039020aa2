/**
 * The requester side of docs/design/v2-scopes.md §4.6, pure over one scope's
 * {@link ScopeStoreReader}: an answer's items classified by first byte, the pending records of
 * one (link, scope) during a poll round, the adoption decision for a command about to be placed,
 * the gap-marker decision, and the `sample` order of §3.4 field 5 (with its steady-state rule).
 *
 * The caller (scope-host.ts, per requesting peer) keeps one {@link PendingRecords} per (link, scope), calls
 * {@link PendingRecords.endRound} when a round ends (an answer with `more` = false, a poll
 * timeout) or the link closes, adopts what {@link adoptionFor} returns before appending the
 * command, and writes the marker {@link PendingRecords.gapMarker} returns before placing any
 * command of that answer.
 */
import { compareBytes } from '../../protocol/command.js';
import { MAX_HEADS, MAX_SAMPLE } from '../../protocol/constants.js';
import { ITEM_COMMAND, ITEM_HORIZON_RECORD, MAX_HORIZON_SAMPLE, MAX_PENDING_RECORDS } from '../../protocol/constants-v2.js';
import { SyncwireError } from '../../protocol/errors.js';
import { decodeHorizonRecord, type HorizonRecord } from '../../protocol/horizon-record.js';
import { toHex } from '../../protocol/keys.js';
import type { GapRecord, HorizonEntry, ScopeStoreReader } from '../store/scope-store-contract.js';

/** One item of an answer, by its first byte (§3.5). */
export type ClassifiedItem = { kind: 'command'; bytes: Uint8Array } | { kind: 'record'; record: HorizonRecord };

/**
 * Classify an answer's items in order: 0x86 a command (decoded and checked later, §2.3), 0x83 a
 * horizon record (decoded and checked here), anything else — or a record that does not decode —
 * dropped and counted `malformed`; the other items are kept.
 */
export function classifyItems(items: readonly Uint8Array[]): { items: ClassifiedItem[]; malformed: number } {
  const out: ClassifiedItem[] = [];
  let malformed = 0;
  for (const bytes of items) {
    if (bytes[0] === ITEM_COMMAND) out.push({ kind: 'command', bytes });
    else if (bytes[0] === ITEM_HORIZON_RECORD) {
      try {
        out.push({ kind: 'record', record: decodeHorizonRecord(bytes) });
      } catch (err) {
        if (!(err instanceof SyncwireError)) throw err;
        malformed++;
      }
    } else malformed++;
  }
  return { items: out, malformed };
}

/** Whether this host retains `id` or has it in its horizon. */
const knownHere = (reader: ScopeStoreReader, id: Uint8Array): boolean => reader.indexOf(id) >= 0 || reader.horizonEntry(id) !== undefined;

/**
 * The pending records of one (link, scope) during one poll round, oldest first, at most `max`
 * (default {@link MAX_PENDING_RECORDS}): the oldest is dropped when a new one arrives at the
 * bound. A record for an id already pending keeps the first one (an id has one depth and frontier).
 */
export class PendingRecords {
  private readonly byId = new Map<string, HorizonRecord>();
  private gapDone = false;

  constructor(readonly max = MAX_PENDING_RECORDS) {}

  /** Records pending. */
  get size(): number {
    return this.byId.size;
  }

  /** Whether this round already wrote its gap marker (§4.6: at most one per round). */
  get gapWritten(): boolean {
    return this.gapDone;
  }

  /**
   * A record received in an answer: ignored ('known') when this host retains the id or has it in
   * its horizon, else kept ('pending'; 'repeat' when already pending).
   */
  offer(reader: ScopeStoreReader, record: HorizonRecord): 'known' | 'pending' | 'repeat' {
    if (knownHere(reader, record.id)) return 'known';
    const hex = toHex(record.id);
    if (this.byId.has(hex)) return 'repeat';
    if (this.byId.size >= this.max) this.byId.delete(this.byId.keys().next().value as string);
    this.byId.set(hex, { id: record.id.slice(), depth: record.depth, frontier: record.frontier.map((f) => f.slice()) });
    return 'pending';
  }

  /** The pending record of `id`, or undefined. */
  get(id: Uint8Array): HorizonRecord | undefined {
    return this.byId.get(toHex(id));
  }

  /** Ids of the pending records, oldest first (what the round's next requests name). */
  ids(): Uint8Array[] {
    return [...this.byId.values()].map((r) => r.id.slice());
  }

  /** The round ended (or the link closed): every record is dropped, the gap allowance renewed. */
  endRound(): void {
    this.byId.clear();
    this.gapDone = false;
  }

  /**
   * The gap marker an answer calls for, decided before any of its commands is placed: when `gap`
   * is set, at least one of its `records` names an id this host neither retains nor has in its
   * horizon, and the round wrote none yet — then those records (and the round counts it);
   * otherwise null.
   */
  gapMarker(reader: ScopeStoreReader, gap: boolean, records: readonly HorizonRecord[]): GapRecord[] | null {
    if (!gap || this.gapDone) return null;
    const unknown = records.filter((r) => !knownHere(reader, r.id)).map((r) => ({ id: r.id.slice(), depth: r.depth }));
    if (unknown.length === 0) return null;
    this.gapDone = true;
    return unknown;
  }
}

/** Whether a command can be placed now, and the pending records it adopts; or what it waits for. */
export type Adoption = { ok: true; adopt: HorizonEntry[] } | { ok: false; missing: Uint8Array[] };

/**
 * §4.6 for a command about to be placed, given its parent ids: each parent is retained, in the
 * horizon, or a pending record whose frontier consists of membership commands this host holds
 * (`holdsMembership`) — that record is adopted. Any other parent is missing: the command waits
 * as an orphan and nothing is adopted.
 */
export function adoptionFor(
  reader: ScopeStoreReader,
  pending: PendingRecords,
  parents: readonly Uint8Array[],
  holdsMembership: (id: Uint8Array) => boolean,
): Adoption {
  const adopt: HorizonEntry[] = [];
  const missing: Uint8Array[] = [];
  for (const p of parents) {
    if (knownHere(reader, p)) continue;
    const rec = pending.get(p);
    if (rec !== undefined && rec.frontier.every(holdsMembership)) adopt.push({ id: rec.id.slice(), depth: rec.depth, frontier: rec.frontier.map((f) => f.slice()) });
    else missing.push(p.slice());
  }
  return missing.length > 0 ? { ok: false, missing } : { ok: true, adopt };
}

/**
 * The v1 exponential sample over the retained commands: handles `size − 1, size − 2, size − 4, …`
 * that are retained, then the genesis (handle 0), at most `max` ids.
 */
export function exponentialSample(reader: ScopeStoreReader, max: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const add = (h: number): void => {
    if (out.length < max && h >= 0 && h < reader.size && reader.isRetained(h) && !out.some((x) => compareBytes(x, reader.idOf(h)) === 0)) out.push(reader.idOf(h).slice());
  };
  for (let d = 1; d <= reader.size && out.length < max; d *= 2) add(reader.size - d);
  add(0);
  return out;
}

/** Inputs of {@link sampleV2}. */
export interface SampleInputs {
  /** The request's `heads` (never repeated in the sample). */
  heads: readonly Uint8Array[];
  /** The responder's heads from its last answer on this (link, scope); empty before the first. */
  responderHeads: readonly Uint8Array[];
  /** The pending record ids of this round, oldest first ({@link PendingRecords.ids}). */
  pending: readonly Uint8Array[];
}

/**
 * Whether the exponential part of the sample is sent (§3.4 field 5, the steady-state rule): only
 * when this host retains none of `responderHeads` — none of them, counting those that are among
 * the request's own `heads` (they say the same to the responder without being repeated). With
 * no previous answer (`responderHeads` empty) it is sent. Any sample is correct (it names only
 * ids the requester holds, so M keeps all it lacks); a retained responder head is in K, and when all
 * of them are (steady state, ≤ 10 heads) M is at most what the responder appended since that answer, so the
 * exponential ids could only spare commands the requester got meanwhile from someone else.
 */
export function sendsExponential(reader: ScopeStoreReader, responderHeads: readonly Uint8Array[]): boolean {
  return !responderHeads.some((id) => reader.indexOf(id) >= 0);
}

/**
 * §3.4 field 5, in this order without repeats and without ids in `heads`: the responder's heads
 * this host retains; the pending records; the horizon entries deepest first (ties: id ascending),
 * at most {@link MAX_HORIZON_SAMPLE}; then the exponential sample, only when
 * {@link sendsExponential} (no responder head retained); cut to {@link MAX_SAMPLE}. In steady
 * state (nothing pending, no horizon) the sample is therefore the responder's heads this host
 * retains and does not name in `heads` — often empty.
 */
export function sampleV2(reader: ScopeStoreReader, inputs: SampleInputs): Uint8Array[] {
  const seen = new Set(inputs.heads.slice(0, MAX_HEADS).map(toHex));
  const out: Uint8Array[] = [];
  const add = (id: Uint8Array): void => {
    const hex = toHex(id);
    if (out.length >= MAX_SAMPLE || seen.has(hex)) return;
    seen.add(hex);
    out.push(id.slice());
  };
  for (const id of inputs.responderHeads) if (reader.indexOf(id) >= 0) add(id);
  for (const id of inputs.pending) add(id);
  const horizon = reader.horizon().sort((a, b) => b.depth - a.depth || compareBytes(a.id, b.id));
  for (const e of horizon.slice(0, MAX_HORIZON_SAMPLE)) add(e.id);
  if (sendsExponential(reader, inputs.responderHeads)) for (const id of exponentialSample(reader, MAX_SAMPLE)) add(id);
  return out;
}

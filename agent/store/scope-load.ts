/**
 * Loading a scope directory into a {@link DiskScopeStore}'s index (the open order of
 * docs/design/v2-scopes.md §5.3, after `horizon.bin` and `members.log` were read): scan every
 * segment in order, numbering commands from each segment's first handle; index the pinned
 * commands below base and everything from base on, in handle order; take membership commands'
 * bytes from `members.log`; attach gap markers to the command that follows them; then apply the
 * crash rule of §5.2 and delete segments wholly below base.
 */
import { decodeHeldCommandV2, type CommandV2 } from '../../protocol/command-v2.js';
import { CommandKind } from '../../protocol/constants-v2.js';
import { toHex } from '../../protocol/keys.js';
import type { Logger } from '../node/log.js';
import type { HorizonState } from './horizon-file.js';
import { BODY_GAP, decodeGapMarker, scannedTimeOf } from './log-format-v3.js';
import { unwrittenMembers, type LoggedMember } from './members-log.js';
import type { DiskScopeStore } from './scope-store.js';
import type { GapRecord, ScopeOpenReport, ScopeStoreReader } from './scope-store-contract.js';
import { ScopeStoreError } from './scope-store-errors.js';

/** What the loader calls and reports to. */
export interface LoadHooks {
  frontier: ((cmd: CommandV2, store: ScopeStoreReader) => number) | undefined;
  membership: ((cmd: CommandV2) => void) | undefined;
  logger: Logger;
}

/** Index the segments of `store` (see the module comment). `members`: every `members.log` record. */
export function loadScope(store: DiskScopeStore, hz: HorizonState, members: LoggedMember[], o: LoadHooks): Omit<ScopeOpenReport, 'truncatedBytes'> & { truncatedBytes: number } {
  const state = store.state;
  const base = hz.base;
  const pinnedData = new Set(hz.pinnedHeads);
  const pinnedMem = [...hz.pinnedMembers].sort((a, b) => a[0] - b[0]);
  const pinnedMemSet = new Set(pinnedMem.map(([h]) => h));
  const path = store.membersLog.file.path;
  const bad = (why: string): ScopeStoreError => new ScopeStoreError('bad-segment', store.dir, `${store.dir}: ${why}`);
  if (members.length < pinnedMem.length) throw bad(`members.log holds ${members.length} membership commands, horizon.bin pins ${pinnedMem.length}`);
  for (const [h, head] of pinnedMem) if (!head) state.markNotHead(h);
  const frontierOf = (cmd: CommandV2): number => o.frontier?.(cmd, store) ?? 0;
  let missing = 0;
  let pm = 0;
  /** The next `members.log` record, for a membership command found in a segment at or above base. */
  let mx = pinnedMem.length;
  const load = (h: number, cmd: CommandV2, offset: number, timeS: number): void => {
    try {
      missing += store.loadRecord(h, cmd, frontierOf(cmd), offset, timeS, true);
    } catch (err) {
      if (err instanceof RangeError) throw bad(`handle ${h}: ${err.message} (a segment is missing or damaged)`);
      throw err;
    }
  };
  const pinnedBelow = (h: number): void => {
    for (; pm < pinnedMem.length && pinnedMem[pm]![0] < h; pm++) {
      const m = members[pm]!;
      load(pinnedMem[pm]![0], m.cmd, -m.offset - 1, m.timeS);
    }
  };
  let gaps: GapRecord[][] = [];
  const attachGaps = (h: number, keep: boolean): void => {
    if (keep) for (const g of gaps) state.addGap(h, g);
    gaps = [];
  };
  let truncatedBytes = 0;
  const segs = store.segments.segments;
  segs.forEach((seg, i) => {
    let h = seg.first;
    const r = seg.file.scan((body, _at, bodyOffset) => {
      const t = scannedTimeOf(body);
      if (body[0] === BODY_GAP) {
        try {
          gaps.push(decodeGapMarker(body));
        } catch (err) {
          return `bad gap marker: ${(err as Error).message}`;
        }
        return null;
      }
      const here = h++;
      if (here < base && !pinnedData.has(here)) {
        // Pruned, or a pinned membership command (indexed from members.log, in handle order).
        attachGaps(here, pinnedMemSet.has(here));
        return null;
      }
      let cmd: CommandV2;
      try {
        cmd = decodeHeldCommandV2(store.scopeId, body);
      } catch (err) {
        h--;
        return `undecodable command: ${(err as Error).message}`;
      }
      pinnedBelow(here);
      if (cmd.kind === CommandKind.Data) load(here, cmd, bodyOffset, t);
      else {
        let m = members[mx];
        if (m === undefined) {
          // members.log lost its tail (it is written first, but the OS may reorder): write it again.
          o.membership?.(cmd);
          m = { cmd, offset: store.membersLog.write(cmd, t), timeS: t };
          members.push(m);
          o.logger.warn({ dir: store.dir, handle: here }, 'scope store: membership command missing from members.log, written again');
        } else if (toHex(m.cmd.id) !== toHex(cmd.id)) throw bad(`members.log record ${mx} is not the membership command at handle ${here}`);
        mx++;
        load(here, cmd, -m.offset - 1, t);
      }
      attachGaps(here, true);
      return null;
    }, i === segs.length - 1);
    truncatedBytes += r.truncatedBytes;
    if (r.truncatedBytes > 0) o.logger.warn({ file: seg.file.path, truncatedBytes: r.truncatedBytes }, 'scope store: truncated torn tail');
  });
  pinnedBelow(Number.POSITIVE_INFINITY);
  attachGaps(state.size, true);
  for (const h of pinnedData) if (!state.isRetained(h)) throw bad(`pinned command ${h} is in no segment`);
  const unwritten = unwrittenMembers(members, mx, path);
  for (const m of unwritten) {
    store.rewriteSegmentRecord(m.cmd, m.timeS);
    load(state.size, m.cmd, -m.offset - 1, m.timeS);
  }
  if (unwritten.length > 0) o.logger.warn({ dir: store.dir, commands: unwritten.length }, 'scope store: membership commands found only in members.log were appended to the segment');
  if (missing > 0) o.logger.warn({ dir: store.dir, parents: missing }, 'scope store: parents neither held nor in the horizon (horizon.bin was rebuilt?)');
  const deleted = store.segments.deleteBelow(base, [...pinnedData]);
  return { commands: state.ix.size, truncatedBytes, retained: state.ix.size, segments: store.segments.segments.length, deletedSegments: deleted, recoveredMembers: unwritten.length };
}

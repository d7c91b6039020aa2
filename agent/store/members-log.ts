/**
 * `members.log` of a scope directory (docs/design/v2-scopes.md §5.2): the genesis and every
 * membership command a second time, as v3 records, never pruned. A membership command is
 * written here first (at once, not staged), then to its segment, so on open the membership is
 * known before any segment record is indexed, and a crash between the two writes leaves a
 * command here that no segment holds: {@link unwrittenMembers} finds it and the store appends it to
 * the current segment (its parents are older, so append order stays causal).
 *
 * Records here are in handle order (each is written right before its segment record), so the
 * i-th record is the i-th membership command of the scope: that is how a membership command whose
 * segment was deleted (wholly below base) keeps its handle, listed in `horizon.bin`. The store
 * reads every membership command's bytes from here, so deleting segments never loses one.
 */
import { join } from 'node:path';
import { decodeHeldCommandV2, type CommandV2 } from '../../protocol/command-v2.js';
import { CommandKind } from '../../protocol/constants-v2.js';
import type { Durability } from './command-store.js';
import type { FdPool } from './fd-pool.js';
import { scannedTimeOf } from './log-format-v3.js';
import { RecordFile, type FileRepair } from './record-file.js';
import { ScopeStoreError } from './scope-store-errors.js';

/** File name inside a scope directory. */
export const MEMBERS_FILE = 'members.log';

/** A membership command read from `members.log`. */
export interface LoggedMember {
  cmd: CommandV2;
  /** Offset of its body in `members.log`. */
  offset: number;
  timeS: number;
}

/** The open `members.log` of a scope. It keeps no command in memory (an idle scope stays small). */
export class MembersLog {
  private constructor(
    readonly file: RecordFile,
    /** Records in the file. */
    public count: number,
  ) {}

  /**
   * Open (creating) `<dir>/members.log` and read it: a torn last record is cut. `members` is
   * every record, in file (= handle) order.
   * @throws ScopeStoreError 'bad-segment' on other damage or a record that is not a membership
   *   command of this scope.
   */
  static open(dir: string, scopeId: Uint8Array, pool: FdPool, durability: Durability): { log: MembersLog; members: LoggedMember[]; repair: FileRepair } {
    const { file, repair } = RecordFile.open(join(dir, MEMBERS_FILE), pool, durability);
    const members: LoggedMember[] = [];
    // A record that is not a membership command counts as damage: at the tail it is
    // quarantined and cut like a torn record, anywhere else the open is refused.
    const scan = file.scan((body, _at, bodyOffset) => {
      try {
        const cmd = decodeHeldCommandV2(scopeId, body);
        if (cmd.kind === CommandKind.Data) return 'a data command in members.log';
        members.push({ cmd, offset: bodyOffset, timeS: scannedTimeOf(body) });
        return null;
      } catch (err) {
        return `not a membership command: ${(err as Error).message}`;
      }
    });
    return { log: new MembersLog(file, members.length), members, repair: { truncatedBytes: repair.truncatedBytes + scan.truncatedBytes } };
  }

  /** Write `cmd` now (before its segment record). Returns its body's offset. @throws StoreWriteError. */
  write(cmd: CommandV2, timeS: number): number {
    const offset = this.file.writeNow(timeS, cmd.bytes);
    this.count++;
    return offset;
  }
}

/**
 * The crash rule of §5.2: the records of `members` past the first `matched` (the membership
 * commands that `horizon.bin` or a segment accounts for) were written to `members.log` but to no
 * segment — a crash between the two writes. The store appends them to its current segment.
 * @throws ScopeStoreError 'bad-segment' when there are fewer than `matched` records.
 */
export function unwrittenMembers(members: readonly LoggedMember[], matched: number, path: string): LoggedMember[] {
  if (members.length < matched) {
    throw new ScopeStoreError('bad-segment', path, `${path}: holds ${members.length} membership commands, the scope accounts for ${matched}`);
  }
  return members.slice(matched);
}

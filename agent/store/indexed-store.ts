/**
 * What every store answers straight from its {@link CommandIndex}: lookups, depth, parents,
 * lengths, authors and heads. Stores differ only in where the bytes live and how appends are
 * made durable, so they extend this and add `bytesOf`, `append`, `sync` and `close`.
 */
import type { Command } from '../../protocol/command.js';
import { toHex } from '../../protocol/keys.js';
import type { CommandIndex } from './command-index.js';
import type { CommandStore, OpenReport } from './command-store.js';
import { StoreError } from './store-errors.js';

/** Base of the disk and memory stores. */
export abstract class IndexedStore implements CommandStore {
  /** @param index the compact index, exposed for walks that want `parentAt` and for memory reports. */
  constructor(readonly index: CommandIndex) {}

  abstract readonly openReport: OpenReport;
  abstract bytesOf(idx: number): Uint8Array;
  abstract append(cmd: Command): number;
  abstract sync(): Promise<void>;

  /**
   * Append a command this agent created, so that a failed write leaves no trace (see
   * {@link CommandStore.appendWritten}). Default: {@link append}, for stores whose appends
   * cannot fail part-way (memory).
   */
  appendWritten(cmd: Command): number {
    return this.append(cmd);
  }
  abstract close(): Promise<void>;

  /** The log file, for errors ({@link StoreError.path}); undefined for a store without one. */
  protected abstract readonly location: string | undefined;

  /**
   * The append preconditions every store shares: `cmd`'s handle when it is indexed already
   * (appending is idempotent), else the handles of its parents.
   * @throws StoreError 'missing-parent' when a parent is not in the store.
   */
  protected placeOf(cmd: Command): number | number[] {
    const have = this.index.indexOf(cmd.id);
    if (have >= 0) return have;
    const parents = this.index.resolveParents(cmd.parents);
    if (parents === null) throw new StoreError('missing-parent', this.location, `append ${toHex(cmd.id)}: a parent is not in the store`);
    return parents;
  }

  /** The error of a read or append after close: StoreError 'closed' (`what` names the store). */
  protected closedError(what: string): StoreError {
    return new StoreError('closed', this.location, `${what} is closed`);
  }

  get size(): number {
    return this.index.size;
  }

  indexOf(id: Uint8Array): number {
    return this.index.indexOf(id);
  }

  idOf(idx: number): Uint8Array {
    return this.index.idOf(idx);
  }

  depthOf(idx: number): number {
    return this.index.depthOf(idx);
  }

  parentsOf(idx: number): number[] {
    return this.index.parentsOf(idx);
  }

  lengthOf(idx: number): number {
    return this.index.lengthOf(idx);
  }

  authorOf(idx: number): { author: Uint8Array; seq: number } {
    return this.index.authorOf(idx);
  }

  heads(): number[] {
    return this.index.heads();
  }
}

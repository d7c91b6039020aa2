/**
 * What every store answers straight from its {@link CommandIndex}: lookups, depth, parents,
 * lengths, authors and heads. Stores differ only in where the bytes live and how appends are
 * made durable, so they extend this and add `bytesOf`, `append`, `sync` and `close`.
 */
import type { Command } from '../../protocol/command.js';
import type { CommandIndex } from './command-index.js';
import type { CommandStore, OpenReport } from './command-store.js';

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

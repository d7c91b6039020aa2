/**
 * The store contract the engine relies on. Commands are addressed by a dense numeric handle
 * (0..size-1, in append order, which is always a causal order) so the engine's graph walks touch
 * only typed arrays, never hex strings or objects.
 */
import type { Command } from '../../protocol/command.js';

/** How hard the store works to keep appended commands across a crash. */
export type Durability =
  /** Every commit waits for an fsync that covers it (many commits share one: group commit). */
  | { mode: 'always' }
  /** Fsync at most every `ms` milliseconds; a crash may lose that window. */
  | { mode: 'batch'; ms: number }
  /** Never fsync; the OS decides. */
  | { mode: 'none' };

/** What opening a store found. */
export interface OpenReport {
  /** Commands loaded. */
  commands: number;
  /** Bytes cut from a torn or corrupt tail (0 when the log was clean). */
  truncatedBytes: number;
}

/** Append-only command store with a compact in-memory index. */
export interface CommandStore {
  /** Number of commands held. */
  readonly size: number;
  /** What `open` found (torn tail truncation is reported here, and logged by the caller). */
  readonly openReport: OpenReport;
  /** Handle of a command id, or -1 when absent. O(1). */
  indexOf(id: Uint8Array): number;
  /** The 32-byte id of handle `idx`. May be a view into the store's memory: copy it before keeping it. */
  idOf(idx: number): Uint8Array;
  /** Generation number: 1 for a command without parents, else 1 + max of its parents' depths. */
  depthOf(idx: number): number;
  /** Handles of the parents of `idx`. */
  parentsOf(idx: number): number[];
  /** Encoded length in bytes of `idx` (no disk read). */
  lengthOf(idx: number): number;
  /** Author fingerprint (8 bytes, a copy) and sequence number of `idx`. */
  authorOf(idx: number): { author: Uint8Array; seq: number };
  /** Exact encoding of `idx` (may read the log). */
  bytesOf(idx: number): Uint8Array;
  /** Current heads: handles no other command names as parent. */
  heads(): number[];
  /**
   * Append a verified command whose parents are all present (the engine guarantees both).
   * Returns its handle. Appending an id already held returns the existing handle and writes nothing.
   * @throws Error when a parent is missing (a programming error in the caller).
   */
  append(cmd: Command): number;
  /**
   * Append a command created here (a local commit). Unlike {@link append}, the command is indexed
   * only after its record reached the file: when the write fails, the store is left exactly as it
   * was (nothing indexed, nothing half-written in the log), so the commit can be refused cleanly.
   * @throws StoreWriteError when the write fails (reason `disk-full` on a full disk).
   */
  appendWritten(cmd: Command): number;
  /** Resolves once everything appended so far is as durable as the store's durability setting promises. */
  sync(): Promise<void>;
  /** Flush, fsync and release files. Idempotent. */
  close(): Promise<void>;
}

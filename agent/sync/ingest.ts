/**
 * Ingest: the only path by which received commands reach the store. Each command is decoded
 * (structure, canonical encoding, size), its author checked against the key directory, its
 * signature verified — in parallel on libuv's thread pool, so all cores work during a bulk
 * sync — and it is appended only once all its parents are present. A command with unknown
 * parents waits in the orphan buffer. Nothing invalid is ever stored.
 */
import { decodeCommand, signedBytesOf, type Command } from '../../protocol/command.js';
import { SyncwireError, type ReasonName } from '../../protocol/errors.js';
import { toHex, verifySignatureAsync } from '../../protocol/keys.js';
import type { CommandStore } from '../store/command-store.js';
import { OrphanBuffer } from './orphans.js';
import type { KeyDirectory } from './trust.js';

/** How commands reached the graph. */
export type Delivery = 'commit' | 'push' | 'poll';

/** What one batch did. */
export interface IngestResult {
  /** Store handles appended (including released orphans), in append order. */
  appended: number[];
  /** Commands already held. */
  duplicates: number;
  /** Commands parked because a parent is unknown. */
  orphaned: number;
  /** Rejections by reason. */
  rejected: Partial<Record<ReasonName, number>>;
}

/** Counters since start. */
export interface IngestStats {
  received: number;
  appended: number;
  duplicates: number;
  orphaned: number;
  rejected: number;
}

/** The ingest pipeline. Appends are serialised; verification is not. */
export class Ingest {
  readonly orphans = new OrphanBuffer();
  readonly stats: IngestStats = { received: 0, appended: 0, duplicates: 0, orphaned: 0, rejected: 0 };
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: CommandStore,
    private readonly keys: KeyDirectory,
    /** Called after each batch with the appended handles, the peer they came from and how. */
    private readonly onAppended: (handles: number[], from: string, how: Delivery) => void,
  ) {}

  /** Verify and store a batch of encoded commands received from peer `from` by `how`. Never throws. */
  receive(encoded: readonly Uint8Array[], from: string, how: Delivery): Promise<IngestResult> {
    const result: IngestResult = { appended: [], duplicates: 0, orphaned: 0, rejected: {} };
    const reject = (reason: ReasonName): void => {
      result.rejected[reason] = (result.rejected[reason] ?? 0) + 1;
      this.stats.rejected++;
    };
    this.stats.received += encoded.length;
    const checks: Promise<Command | null>[] = [];
    for (const bytes of encoded) {
      let cmd: Command;
      try {
        cmd = decodeCommand(bytes);
      } catch (err) {
        reject(err instanceof SyncwireError ? err.reason : 'Malformed');
        continue;
      }
      if (this.store.indexOf(cmd.id) >= 0) {
        result.duplicates++;
        this.stats.duplicates++;
        continue;
      }
      const key = this.keys.keyOf(toHex(cmd.author));
      if (key === undefined) {
        reject('UnknownAuthor');
        continue;
      }
      checks.push(
        verifySignatureAsync(key, signedBytesOf(cmd.bytes), cmd.signature).then((ok) => {
          if (ok) return cmd;
          reject('BadSignature');
          return null;
        }),
      );
    }
    const run = this.tail.then(async () => {
      const verified = await Promise.all(checks);
      for (const cmd of verified) if (cmd !== null) this.place(cmd, from, result);
      if (result.appended.length > 0) this.onAppended(result.appended, from, how);
      return result;
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Wait for every batch received so far to be placed. */
  idle(): Promise<void> {
    return this.tail.then(() => undefined);
  }

  private place(cmd: Command, from: string, result: IngestResult): void {
    if (this.store.indexOf(cmd.id) >= 0) {
      result.duplicates++;
      this.stats.duplicates++;
      return;
    }
    const missing = cmd.parents.filter((p) => this.store.indexOf(p) < 0).map(toHex);
    if (missing.length > 0) {
      this.orphans.add(cmd, from, missing);
      result.orphaned++;
      this.stats.orphaned++;
      return;
    }
    const h = this.store.append(cmd);
    result.appended.push(h);
    this.stats.appended++;
    for (const o of this.orphans.release(toHex(cmd.id))) this.place(o.cmd, o.from, result);
  }
}

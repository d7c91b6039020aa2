/**
 * Rebuilding the index from a log scan, children before parents included. The index keeps a
 * causal order (a command's parents get smaller handles), but the file need not: a command
 * whose parent was lost in damaged bytes is kept in the log and held here as a *store orphan*
 * until the parent is appended — by a peer's answer to the normal poll, after its child in the
 * file. A record whose parents appear later in the file is indexed once they are.
 */
import { decodeCommand, type Command } from '../../protocol/command.js';
import { toHex } from '../../protocol/keys.js';
import { CommandIndex } from './command-index.js';

/** Where an orphan record's body lies in the log. */
export interface OrphanRecord {
  offset: number;
  length: number;
}

interface Pending extends OrphanRecord {
  id: Uint8Array;
  parents: Uint8Array[];
  author: Uint8Array;
  seq: number;
  missing: number;
}

/** Scan visitor that fills a {@link CommandIndex}, deferring records whose parents are not indexed. */
export class LogIndexer {
  readonly index = new CommandIndex();
  /** Records whose id was already indexed or pending (skipped; the first copy counts). */
  duplicates = 0;
  private readonly pending = new Map<string, Pending>();
  /** Missing parent id (hex) → ids (hex) of pending records that wait for it. */
  private readonly waiting = new Map<string, string[]>();

  /** The {@link RecordVisitor}: null to accept, or why the record is unusable. */
  readonly visit = (body: Uint8Array, _recordOffset: number, bodyOffset: number): string | null => {
    let cmd: Command;
    try {
      cmd = decodeCommand(body);
    } catch (err) {
      return `undecodable command: ${(err as Error).message}`;
    }
    // Fast path (no orphans anywhere): no hex ids, no sets — this runs for every record on open.
    if (this.index.indexOf(cmd.id) >= 0 || (this.pending.size > 0 && this.pending.has(toHex(cmd.id)))) {
      this.duplicates++;
      return null;
    }
    const parents = this.index.resolveParents(cmd.parents);
    if (parents !== null) {
      this.index.add(cmd.id, parents, body.length, bodyOffset, cmd.author, cmd.seq);
      if (this.waiting.size > 0) this.release(toHex(cmd.id));
      return null;
    }
    const hex = toHex(cmd.id);
    const missing = new Set(cmd.parents.filter((p) => this.index.indexOf(p) < 0).map(toHex));
    // The body is a view into the scan window: keep copies.
    const p: Pending = { id: cmd.id.slice(), parents: cmd.parents.map((x) => x.slice()), author: cmd.author.slice(), seq: cmd.seq, offset: bodyOffset, length: body.length, missing: missing.size };
    this.pending.set(hex, p);
    for (const m of missing) {
      const list = this.waiting.get(m);
      if (list === undefined) this.waiting.set(m, [hex]);
      else list.push(hex);
    }
    return null;
  };

  /** Records still waiting for a parent (id hex → where they lie). */
  orphans(): Map<string, OrphanRecord> {
    const out = new Map<string, OrphanRecord>();
    for (const [hex, p] of this.pending) out.set(hex, { offset: p.offset, length: p.length });
    return out;
  }

  /** Index every pending record that was waiting only for `hex`, transitively. */
  private release(hex: string): void {
    const stack = [hex];
    while (stack.length > 0) {
      const parent = stack.pop()!;
      const kids = this.waiting.get(parent);
      if (kids === undefined) continue;
      this.waiting.delete(parent);
      for (const k of kids) {
        const p = this.pending.get(k)!;
        if (--p.missing > 0) continue;
        this.pending.delete(k);
        this.index.add(p.id, this.index.resolveParents(p.parents)!, p.length, p.offset, p.author, p.seq);
        stack.push(k);
      }
    }
  }
}

/**
 * Bounded holding area for verified commands whose parents are not (yet) in the store — a
 * lost or reordered push. When a missing parent arrives, its waiting children are released.
 * Full buffer: the oldest orphan is dropped (a later poll fetches it again), so memory stays
 * bounded whatever a peer sends.
 */
import type { Command } from '../../protocol/command.js';
import { toHex } from '../../protocol/keys.js';

interface Orphan {
  cmd: Command;
  from: string;
  missing: readonly string[];
}

/** The orphan buffer. */
export class OrphanBuffer {
  private readonly byId = new Map<string, Orphan>();
  private readonly waiting = new Map<string, Set<string>>();
  private bytes = 0;

  /** Defaults: 2048 commands, 1 MiB of command bytes. */
  constructor(
    private readonly maxCount = 2048,
    private readonly maxBytes = 1 << 20,
  ) {}

  /** Orphans held. */
  get size(): number {
    return this.byId.size;
  }

  /** Hold `cmd` until every id in `missing` (hex) arrives. */
  add(cmd: Command, from: string, missing: readonly string[]): void {
    const id = toHex(cmd.id);
    if (this.byId.has(id)) return;
    while (this.byId.size > 0 && (this.byId.size >= this.maxCount || this.bytes + cmd.bytes.length > this.maxBytes)) {
      this.drop(this.byId.keys().next().value as string);
    }
    this.byId.set(id, { cmd, from, missing });
    this.bytes += cmd.bytes.length;
    for (const m of missing) {
      let set = this.waiting.get(m);
      if (set === undefined) this.waiting.set(m, (set = new Set()));
      set.add(id);
    }
  }

  /** Whether an id (hex) is held. */
  has(idHex: string): boolean {
    return this.byId.has(idHex);
  }

  /** Remove and return the orphans that were waiting for `idHex` (they may still lack others). */
  release(idHex: string): Orphan[] {
    const ids = this.waiting.get(idHex);
    if (ids === undefined) return [];
    this.waiting.delete(idHex);
    const out: Orphan[] = [];
    for (const id of ids) {
      const o = this.byId.get(id);
      if (o !== undefined) {
        out.push(o);
        this.drop(id);
      }
    }
    return out;
  }

  private drop(id: string): void {
    const o = this.byId.get(id);
    if (o === undefined) return;
    this.byId.delete(id);
    this.bytes -= o.cmd.bytes.length;
    for (const m of o.missing) {
      const set = this.waiting.get(m);
      set?.delete(id);
      if (set?.size === 0) this.waiting.delete(m);
    }
  }
}

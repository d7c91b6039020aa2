/**
 * The values membership evaluation (`MembershipGraph`, membership.ts; design v2-scopes §1.5–§1.8)
 * hands out and takes in: frontiers, the state at a frontier, the facts of a command and of its
 * parents, and the verdict.
 */
import { compareBytes } from './command.js';
import type { Member } from './membership-body.js';
import type { MembershipKeys } from './membership-keys.js';

/** A membership frontier: an antichain of membership commands of one graph. */
export class Frontier {
  /** Its interned number in the graph ({@link MembershipGraph.intern}), or -1 while transient. */
  ref = -1;
  /** @internal cached state, evicted by the graph's LRU. */
  cachedState: MembershipState | undefined = undefined;
  /** @internal */
  constructor(
    /** Node numbers, ascending (arrival order). */
    readonly nodes: readonly number[],
    /** @internal interning key */
    readonly key: string,
  ) {}
  /** Membership commands in it. */
  get size(): number {
    return this.nodes.length;
  }
}

/** The membership at a frontier: every key set in its closure, with its roles (0 = removed). */
export class MembershipState {
  /** @internal */
  constructor(
    /** @internal key number → roles */
    readonly byKey: ReadonlyMap<number, number>,
    private readonly keys: MembershipKeys,
  ) {}
  /** Roles of a full 32-byte public key (0 when the closure never set it or removed it). */
  roles(publicKey: Uint8Array): number {
    const k = this.keys.keyNumber(publicKey);
    return k === undefined ? 0 : (this.byKey.get(k) ?? 0);
  }
  /** Every key the closure sets, roles 0 included, ascending by key. O(keys log keys). */
  members(): Member[] {
    const out: Member[] = [];
    for (const [k, roles] of this.byKey) out.push({ publicKey: this.keys.keyAt(k), roles });
    return out.sort((a, b) => compareBytes(a.publicKey, b.publicKey));
  }
}

/** What the graph needs to know of one parent of a command (§1.6). */
export interface ParentFacts {
  /** The parent's id. */
  id: Uint8Array;
  /** True when the parent is a membership command (kind 1 or 2) held by this graph. */
  membership: boolean;
  /**
   * For any other parent, its own frontier: the interned number the caller stored for it, the
   * ids of a horizon record's frontier (§4.4), or a frontier this graph computed (a command of the
   * batch being placed). Not read for a membership parent.
   */
  frontier?: number | readonly Uint8Array[] | Frontier;
}

/** A command to judge or add: its id, kind, author fingerprint, `F(c)` and payload. */
export interface CommandFacts {
  /** The command's id (for a genesis: the scope id it claims). */
  id: Uint8Array;
  /** `kind` field: 0 data, 1 genesis, 2 membership. */
  kind: number;
  /** 8-byte author fingerprint. */
  author: Uint8Array;
  /** `F(c)` from {@link MembershipGraph.frontierOf}; not read for a genesis (its F is ∅). */
  frontier: Frontier;
  /** The body for kinds 1 and 2; not read for kind 0. */
  payload: Uint8Array;
}

/** Why a command is refused by membership. */
export type MembershipRefusal = 'UnknownAuthor' | 'NotPermitted' | 'Malformed';
/** The verdict of {@link MembershipGraph.check}: the key the signature must verify under, or why not. */
export type Verdict = { ok: true; key: Uint8Array } | { ok: false; reason: MembershipRefusal; detail: string };

/** Options of a {@link MembershipGraph}. */
export interface MembershipGraphOptions {
  /** Frontiers whose state is kept (least recently used evicted). Default 64. */
  stateCacheSize?: number;
}

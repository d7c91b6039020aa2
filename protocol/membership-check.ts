/**
 * Membership's verdict on a command (design v2-scopes §2.3 steps 4–5, rules of §1.5, author
 * lookup of §1.7): kind 0 needs W, kind 1 must be this scope's genesis signed by an A member,
 * kind 2 needs A and rules 2–4 of §1.5. `MembershipGraph.check` (membership.ts) is the entry point.
 */
import { compareBytes, fingerprint } from './command.js';
import { CommandKind, MAX_FRONTIER, MAX_MEMBERSHIP_COMMANDS, Role } from './constants-v2.js';
import { SyncwireError } from './errors.js';
import { decodeGenesisBody, genesisMember, type GenesisBody } from './genesis.js';
import { decodeMembershipBody, type Member } from './membership-body.js';
import { bkey, type MembershipKeys } from './membership-keys.js';
import type { CommandFacts, Frontier, MembershipRefusal, MembershipState, Verdict } from './membership-types.js';

/** What the verdict reads of the graph. @internal */
export interface CheckContext {
  /** The scope id (the genesis id). */
  readonly scopeId: Uint8Array;
  readonly keys: MembershipKeys;
  /** `state(F)`, cached by the graph. */
  state(f: Frontier): MembershipState;
  /** Closure of `f` as a bitset over node numbers. */
  closure(f: Frontier): Uint32Array;
}

/** Key number of the author in `state`, or 'none' / 'ambiguous' (§1.7). @internal */
export function resolveAuthor(keys: MembershipKeys, state: MembershipState, author: Uint8Array): number | 'none' | 'ambiguous' {
  let found: number | 'none' = 'none';
  for (const k of keys.withFingerprint(author)) {
    if ((state.byKey.get(k) ?? 0) === 0) continue;
    if (found !== 'none') return 'ambiguous';
    found = k;
  }
  return found;
}

/** The verdict on `c`; on success, the key its signature must verify under. Changes nothing. @internal */
export function checkCommand(ctx: CheckContext, c: CommandFacts): Verdict {
  if (c.kind === CommandKind.Genesis) return checkGenesis(ctx, c);
  if (c.kind !== CommandKind.Data && c.kind !== CommandKind.Membership) return refuse('Malformed', `kind ${c.kind}`);
  if (c.frontier.size > MAX_FRONTIER) return refuse('NotPermitted', `membership frontier of ${c.frontier.size} commands exceeds ${MAX_FRONTIER}`);
  let ops: Member[] = [];
  if (c.kind === CommandKind.Membership) {
    try {
      ops = decodeMembershipBody(c.payload).ops;
    } catch (err) {
      if (err instanceof SyncwireError) return refuse('Malformed', err.message);
      throw err;
    }
  }
  const state = ctx.state(c.frontier);
  const k = resolveAuthor(ctx.keys, state, c.author);
  if (typeof k !== 'number') return refuse('UnknownAuthor', k === 'none' ? 'no member key has this fingerprint' : 'two member keys share this fingerprint');
  const need = c.kind === CommandKind.Data ? Role.Write : Role.Admin;
  if (((state.byKey.get(k) ?? 0) & need) === 0) return refuse('NotPermitted', c.kind === CommandKind.Data ? 'author lacks W' : 'author lacks A');
  if (c.kind === CommandKind.Membership) {
    let count = 0;
    for (const word of ctx.closure(c.frontier)) count += popcount(word);
    if (count > MAX_MEMBERSHIP_COMMANDS - 1) return refuse('NotPermitted', `closure holds ${count} membership commands`);
    if (collides(ctx.keys, state, ops)) return refuse('NotPermitted', 'two keys with roles would share a fingerprint');
  }
  return { ok: true, key: ctx.keys.keyAt(k) };
}

function checkGenesis(ctx: CheckContext, c: CommandFacts): Verdict {
  if (compareBytes(c.id, ctx.scopeId) !== 0) return refuse('NotPermitted', 'genesis id is not the scope id');
  let body: GenesisBody;
  try {
    body = decodeGenesisBody(c.payload);
  } catch (err) {
    if (err instanceof SyncwireError) return refuse('Malformed', err.message);
    throw err;
  }
  const m = genesisMember(body, c.author);
  if (m === undefined || (m.roles & Role.Admin) === 0) return refuse('NotPermitted', 'genesis author is not an admin member');
  return { ok: true, key: m.publicKey };
}

/** Rule 4 of §1.5: in state({m}) = state(F(m)) overridden by m's ops, a fingerprint is shared. */
function collides(keys: MembershipKeys, base: MembershipState, ops: readonly Member[]): boolean {
  const overridden = new Set<number>();
  const seen = new Set<string>();
  const fps: string[] = [];
  for (const op of ops) {
    const k = keys.keyNumber(op.publicKey);
    if (k !== undefined) overridden.add(k);
    if (op.roles !== 0) fps.push(k === undefined ? bkey(fingerprint(op.publicKey)) : keys.fingerprintOf(k));
  }
  for (const [k, roles] of base.byKey) if (roles !== 0 && !overridden.has(k)) fps.push(keys.fingerprintOf(k));
  for (const fp of fps) {
    if (seen.has(fp)) return true;
    seen.add(fp);
  }
  return false;
}

function refuse(reason: MembershipRefusal, detail: string): Verdict {
  return { ok: false, reason, detail };
}

function popcount(x: number): number {
  let c = 0;
  for (let v = x; v !== 0; v &= v - 1) c++;
  return c;
}

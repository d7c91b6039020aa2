/**
 * The join rule of docs/design/v2-scopes.md §1.9: what a host that joins an announced scope
 * requires of the first command it receives for it, before it holds anything of the scope.
 */
import type { CommandV2 } from '../../protocol/command-v2.js';
import { compareBytes } from '../../protocol/command.js';
import { CommandKind, Role } from '../../protocol/constants-v2.js';
import { SyncwireError, type ReasonName } from '../../protocol/errors.js';
import { decodeGenesisBody } from '../../protocol/genesis.js';

/** What a host joining a scope expects of its first command (§1.9). */
export interface JoinExpectation {
  /** The name the scope was announced under. */
  name: string;
  /** This host's public key, which the genesis must grant R (unless the scope is open-read or pinned). */
  publicKey: Uint8Array;
  /**
   * The join entry names the scope's id (`name@<id>`): the genesis is fixed by it, so it need not
   * grant this host R — the host may be a member added later by a membership command (§6.9).
   */
  pinned?: boolean;
}

/**
 * The join rule of §1.9 for the first command received for an empty joined scope: a genesis
 * whose id is the scope id, with the announced name, granting `expect.publicKey` R or open-read
 * (either not needed for a pinned join).
 * Its signature is checked by the pipeline like any other. Returns why not, or undefined.
 */
export function joinRefusal(first: CommandV2 | undefined, scopeId: Uint8Array, expect: JoinExpectation): { reason: ReasonName; detail: string } | undefined {
  if (first === undefined) return { reason: 'Malformed', detail: 'the first command does not decode' };
  if (first.kind !== CommandKind.Genesis) return { reason: 'NotPermitted', detail: 'the first command is not a genesis' };
  if (compareBytes(first.id, scopeId) !== 0) return { reason: 'NotPermitted', detail: 'the genesis id is not the announced scope id' };
  try {
    const body = decodeGenesisBody(first.payload);
    if (body.name !== expect.name) return { reason: 'NotPermitted', detail: `the genesis names ${body.name}, announced ${expect.name}` };
    const me = body.members.find((m) => compareBytes(m.publicKey, expect.publicKey) === 0);
    if (expect.pinned !== true && (body.flags & 1) === 0 && ((me?.roles ?? 0) & Role.Read) === 0) return { reason: 'NotAMember', detail: 'the genesis grants this host no R' };
  } catch (err) {
    if (err instanceof SyncwireError) return { reason: err.reason, detail: err.message };
    throw err;
  }
  return undefined;
}

/**
 * Two checks a v2 device scope applies before storing a membership command, kept apart from
 * acceptance proper (scope-v2.ts) because they are the device's own limits and join policy, not
 * the shared §2.3 rule: the §1.9 check of a joined scope's genesis, and the 16-member table of
 * §7 item 3 (a scope past it is refused as a whole, never accepted differently).
 */
import { CommandKind, GENESIS_OPEN_READ, Role } from '../../protocol/constants-v2.js';
import type { CommandV2 } from '../../protocol/command-v2.js';
import { SyncwireError } from '../../protocol/errors.js';
import { decodeGenesisBody } from '../../protocol/genesis.js';
import { decodeMembershipBody } from '../../protocol/membership-body.js';
import type { MembershipGraph } from '../../protocol/membership.js';
import { sameId } from './scope-ring-v2.js';
import { MEMBERSHIP_SLOTS } from './types-v2.js';

/**
 * §1.9: the genesis of a joined scope must carry the announced `name` and grant `devicePublicKey`
 * R (or set `open_read`). Returns why not, or null when it passes. `genesis` has passed the
 * membership verdict, so its body decodes.
 */
export function joinRefusal(genesis: CommandV2, name: string, devicePublicKey: Uint8Array): string | null {
  const body = decodeGenesisBody(genesis.payload);
  if (body.name !== name) return `genesis name ${body.name} is not the announced ${name}`;
  const me = body.members.find((m) => sameId(m.publicKey, devicePublicKey));
  if ((body.flags & GENESIS_OPEN_READ) === 0 && ((me?.roles ?? 0) & Role.Read) === 0) return 'genesis does not grant this device R';
  return null;
}

/**
 * Whether storing membership command `cmd` (genesis or membership, past the verdict) in `graph`
 * would name more keys than the 16-member table holds.
 */
export function tooManyKeys(graph: MembershipGraph, cmd: CommandV2): boolean {
  let ops: { publicKey: Uint8Array }[];
  try {
    ops = cmd.kind === CommandKind.Genesis ? decodeGenesisBody(cmd.payload).members : decodeMembershipBody(cmd.payload).ops;
  } catch (err) {
    if (err instanceof SyncwireError) return true; // the verdict decoded it: unreachable
    throw err;
  }
  const known = graph.size === 0 ? 0 : graph.state(graph.view()).members().length;
  const fresh = ops.filter((o) => graph.keyNumber(o.publicKey) === undefined).length;
  return known + fresh > MEMBERSHIP_SLOTS;
}

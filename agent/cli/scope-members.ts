/**
 * Membership changes of a scope (docs/PROTOCOL.md §6.5) as an operator makes them: through the
 * API's `POST /v1/scopes/members` (`syncwire scope grant|revoke`). A change is one membership
 * command signed by this node, which must hold the `a` role in the scope; every host of the scope
 * evaluates it in its causal past, so a revoked peer is no longer offered the scope, and a write
 * role taken away refuses that author's later commands everywhere.
 *
 * Body: `{"members": [{"key": "<64 hex>", "roles": "rw"}, ...]}`: 1 to 16 changes, each key once;
 * `roles` as in the config (letters r, w, a), `""` removes the key from the scope.
 */
import { toHex } from '../../protocol/keys.js';
import { MAX_MEMBERSHIP_OPS, CommandKind } from '../../protocol/constants-v2.js';
import { encodeMembershipBody, type Member } from '../../protocol/membership-body.js';
import { SyncwireError } from '../../protocol/errors.js';
import { ApiError } from '../api/api-error.js';
import { formatCursor } from '../api/cursor.js';
import { parseRoles } from '../sync/device-scope.js';
import { ScopeError, type NodeScopes } from './node-scopes.js';

/**
 * The changes a request body asks for. @throws ApiError 400 `bad_request` naming the first problem.
 */
export function parseMemberChanges(body: Uint8Array): Member[] {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch {
    throw ApiError.of('bad_request', 'body: expected JSON {"members": [{"key": "<64 hex>", "roles": "rw"}]}');
  }
  const list = (v as { members?: unknown } | null)?.members;
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_MEMBERSHIP_OPS) {
    throw ApiError.of('bad_request', `members: expected 1 to ${MAX_MEMBERSHIP_OPS} changes`);
  }
  const seen = new Set<string>();
  return list.map((m: unknown, i) => {
    const { key, roles } = (m ?? {}) as { key?: unknown; roles?: unknown };
    if (typeof key !== 'string' || !/^[0-9a-fA-F]{64}$/.test(key)) throw ApiError.of('bad_request', `members[${i}].key: expected 64 hex digits`);
    if (typeof roles !== 'string') throw ApiError.of('bad_request', `members[${i}].roles: expected letters r, w, a ("" removes the key)`);
    const lower = key.toLowerCase();
    if (seen.has(lower)) throw ApiError.of('bad_request', `members[${i}].key: listed twice`);
    seen.add(lower);
    let bits = 0;
    try {
      bits = roles === '' ? 0 : parseRoles(roles);
    } catch (err) {
      throw ApiError.of('bad_request', `members[${i}].roles: ${(err as Error).message}`);
    }
    return { publicKey: Uint8Array.from(Buffer.from(lower, 'hex')), roles: bits };
  });
}

/**
 * Commit `changes` to the scope `nameOrId` names (or the default scope) as one membership command.
 * @throws ScopeError (unknown scope, `legacy/v1` read-only, none named), NotPermittedError when
 *   this node is not an admin of the scope (or the change is not allowed, §6.5), StoreWriteError.
 */
export async function changeMembers(scopes: NodeScopes, changes: Member[], nameOrId?: string): Promise<{ id: Uint8Array; cursor: string; scope: string }> {
  const s = scopes.resolve(nameOrId);
  if (s.legacy) throw new ScopeError('read_only', 'legacy/v1 is read-only: it has no members');
  const done = await s.host.commit(encodeMembershipBody({ ops: changes }), CommandKind.Membership);
  return { id: done.id, cursor: formatCursor(done.handle, done.id), scope: s.name };
}

/** A refusal of the membership rules as the API's answer (403 `not_permitted`); others pass through. */
export function membershipApiError(err: unknown): unknown {
  if (err instanceof SyncwireError && (err.reason === 'NotPermitted' || err.reason === 'UnknownAuthor')) return ApiError.of('not_permitted', err.message);
  return err;
}

/** The key a change names, as hex (for log lines). */
export const changeKey = (m: Member): string => toHex(m.publicKey);

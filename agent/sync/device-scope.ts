/**
 * A gateway's device scope `device/<peer id>` (docs/design/v2-scopes.md §1.9, §6.1
 * `scopes.deviceScopes`): when a gateway creates one for a peer, and the genesis it signs —
 * members the gateway `R|W|A`, the device `R|W` and the configured extra members, sorted by key;
 * flags 0; retention from the config (default 1,024 commands, 30 days); a 16-byte random nonce.
 * Pure apart from the injected random source.
 */
import { encodeCommandV2, type CommandV2 } from '../../protocol/command-v2.js';
import { compareBytes } from '../../protocol/command.js';
import { ALL_ROLES, CommandKind, Role } from '../../protocol/constants-v2.js';
import { MalformedError } from '../../protocol/errors.js';
import { encodeGenesisBody, type GenesisBody, type GenesisRetention, type Member } from '../../protocol/genesis.js';
import { fromHex, peerIdOf, toHex } from '../../protocol/keys.js';
import { SECONDS_PER_DAY, type RetentionBounds } from '../store/retention-policy.js';
import type { Signer } from './ingest-v2.js';

/** `scopes.deviceScopes` (§6.1). Every field is optional; `{}` means on, with the defaults. */
export interface DeviceScopesConfig {
  /** Extra genesis members: other gateways (`rwa`), operator keys (`a`), back-end readers (`r`). */
  members?: ReadonlyArray<{ key: string; roles: string }>;
  /** Keys (64 hex) for which no device scope is created: other gateways, back ends. */
  exclude?: readonly string[];
  /** The genesis retention; an absent axis is unbounded. Default {@link DEFAULT_DEVICE_RETENTION}. */
  retention?: RetentionBounds;
}

/** §1.9 default: 1,024 commands, no byte bound, 30 days. */
export const DEFAULT_DEVICE_RETENTION: Readonly<GenesisRetention> = Object.freeze({ maxCommands: 1024, maxBytes: 0, maxAgeS: 30 * SECONDS_PER_DAY });

/** Length of the genesis nonce a gateway draws (§1.3: the agent uses 16 random bytes). */
export const DEVICE_NONCE_BYTES = 16;

/** The device scope name of a key: `device/<16 hex peer id>`. */
export function deviceScopeName(publicKey: Uint8Array): string {
  return `device/${peerIdOf(publicKey)}`;
}

/** Roles written as letters `r`, `w`, `a` (§6.1), each at most once, at least one. @throws MalformedError */
export function parseRoles(letters: string): number {
  let roles = 0;
  for (const ch of letters) {
    const bit = ch === 'r' ? Role.Read : ch === 'w' ? Role.Write : ch === 'a' ? Role.Admin : 0;
    if (bit === 0 || (roles & bit) !== 0) throw new MalformedError(`roles ${JSON.stringify(letters)}: expected letters r, w, a, each at most once`);
    roles |= bit;
  }
  if (roles === 0) throw new MalformedError('roles must name at least one of r, w, a');
  return roles;
}

/** A 64-hex key of the config. @throws MalformedError */
function keyOf(hex: string, what: string): Uint8Array {
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new MalformedError(`${what}: expected a 64-hex public key, got ${JSON.stringify(hex)}`);
  return fromHex(hex);
}

/** The genesis retention of `bounds` (absent axes 0 = unbounded). @throws MalformedError when an axis does not fit a uint32. */
export function genesisRetentionOf(bounds: RetentionBounds | undefined): GenesisRetention {
  if (bounds === undefined) return { ...DEFAULT_DEVICE_RETENTION };
  const r = { maxCommands: bounds.commands ?? 0, maxBytes: bounds.bytes ?? 0, maxAgeS: (bounds.days ?? 0) * SECONDS_PER_DAY };
  for (const [k, v] of Object.entries(r)) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) throw new MalformedError(`scopes.deviceScopes.retention: ${k} ${v} does not fit a genesis (uint32)`);
  }
  return r;
}

/**
 * §1.9: whether gateway `gatewayKey` creates a device scope for the peer `peerKey` whose link
 * came up: the peer is not the gateway, its key is not excluded, and no scope of that name is held.
 */
export function wantsDeviceScope(config: DeviceScopesConfig, gatewayKey: Uint8Array, peerKey: Uint8Array, holdsName: (name: string) => boolean): boolean {
  if (compareBytes(gatewayKey, peerKey) === 0) return false;
  const hex = toHex(peerKey);
  if ((config.exclude ?? []).some((k) => k.toLowerCase() === hex)) return false;
  return !holdsName(deviceScopeName(peerKey));
}

/**
 * The genesis body of `device/<peer id of deviceKey>`: the gateway `R|W|A`, the device `R|W`,
 * then the extra members (an extra naming the gateway's or the device's key, or repeating an
 * earlier extra, is left out: the first entry for a key wins), sorted by key.
 * @throws MalformedError for a bad config entry, a nonce that is not 16 bytes, or more than 16 members
 */
export function deviceGenesisBody(config: DeviceScopesConfig, gatewayKey: Uint8Array, deviceKey: Uint8Array, nonce: Uint8Array): GenesisBody {
  if (nonce.length !== DEVICE_NONCE_BYTES) throw new MalformedError(`device scope nonce must be ${DEVICE_NONCE_BYTES} bytes`);
  const members: Member[] = [{ publicKey: gatewayKey.slice(), roles: ALL_ROLES }];
  const add = (publicKey: Uint8Array, roles: number): void => {
    if (!members.some((m) => compareBytes(m.publicKey, publicKey) === 0)) members.push({ publicKey, roles });
  };
  add(deviceKey.slice(), Role.Read | Role.Write);
  (config.members ?? []).forEach((m, i) => add(keyOf(m.key, `scopes.deviceScopes.members[${i}].key`), parseRoles(m.roles)));
  members.sort((a, b) => compareBytes(a.publicKey, b.publicKey));
  return { format: 1, name: deviceScopeName(deviceKey), nonce: nonce.slice(), flags: 0, members, retention: genesisRetentionOf(config.retention) };
}

/**
 * The signed genesis of the device scope of `deviceKey`, created by `gateway` with a nonce of
 * 16 bytes from `random`. Its id is the scope id.
 * @throws MalformedError as {@link deviceGenesisBody}
 */
export function deviceGenesis(config: DeviceScopesConfig, gateway: Signer, deviceKey: Uint8Array, random: (n: number) => Uint8Array): CommandV2 {
  const payload = encodeGenesisBody(deviceGenesisBody(config, gateway.publicKey, deviceKey, random(DEVICE_NONCE_BYTES)));
  return encodeCommandV2(null, { parents: [], author: gateway.author, seq: 0, kind: CommandKind.Genesis, payload }, (m) => gateway.sign(m));
}

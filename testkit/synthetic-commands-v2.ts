/**
 * Structurally valid v2 commands for the scope store tests and probes: a genesis with a real
 * body (so listings can read its name) and data / membership commands whose signature is 64 zero
 * bytes — stores check structure, not signatures. Never feed these to a peer that verifies.
 */
import { encodeCommandV2, type CommandV2 } from '../protocol/command-v2.js';
import { fingerprint } from '../protocol/command.js';
import { ALL_ROLES, CommandKind, type CommandKindValue } from '../protocol/constants-v2.js';
import { encodeGenesisBody } from '../protocol/genesis.js';
import { mulberry32 } from './prng.js';

const ZERO_SIGNATURE = new Uint8Array(64);
/** The one member key of synthetic scopes. */
export const SYNTHETIC_KEY = new Uint8Array(32).fill(0x11);
/** Its fingerprint: the author of every synthetic command. */
export const SYNTHETIC_AUTHOR_V2 = fingerprint(SYNTHETIC_KEY);

/** A genesis named `name`; `nonce` makes distinct scopes of one name. */
export function syntheticGenesis(name = 'test/scope', nonce = new Uint8Array(16)): CommandV2 {
  const payload = encodeGenesisBody({ format: 1, name, nonce, flags: 0, members: [{ publicKey: SYNTHETIC_KEY, roles: ALL_ROLES }], retention: { maxCommands: 0, maxBytes: 0, maxAgeS: 0 } });
  return encodeCommandV2(null, { parents: [], author: SYNTHETIC_AUTHOR_V2, seq: 0, kind: CommandKind.Genesis, payload }, () => ZERO_SIGNATURE);
}

/** A command of `scopeId` with the given parents (sorted by the encoder). */
export function syntheticCommandV2(scopeId: Uint8Array, parents: Uint8Array[], seq: number, payload: Uint8Array, kind: CommandKindValue = CommandKind.Data): CommandV2 {
  return encodeCommandV2(scopeId, { parents, author: SYNTHETIC_AUTHOR_V2, seq, kind, payload }, () => ZERO_SIGNATURE);
}

/**
 * The genesis of a scope and then `n` commands in causal order: chains, forks and merges of up
 * to 4 parents, about one in `memberEvery` a membership command (payload opaque: the store does
 * not read it). Deterministic for a seed.
 */
export function randomScopeDag(n: number, seed: number, memberEvery = 20): CommandV2[] {
  const rand = mulberry32(seed);
  const pick = (k: number): number => Math.floor(rand() * k);
  const g = syntheticGenesis('test/dag', Uint8Array.from({ length: 16 }, () => pick(256)));
  const out: CommandV2[] = [g];
  for (let i = 1; i <= n; i++) {
    const r = rand();
    let ps = r < 0.6 ? [i - 1] : r < 0.85 ? [pick(i)] : [pick(i), pick(i), pick(i), i - 1].slice(0, 2 + pick(3));
    ps = [...new Set(ps)];
    const kind = pick(memberEvery) === 0 ? CommandKind.Membership : CommandKind.Data;
    const payload = Uint8Array.from({ length: 1 + pick(120) }, () => pick(256));
    out.push(syntheticCommandV2(g.id, ps.map((p) => out[p]!.id), i, payload, kind));
  }
  return out;
}

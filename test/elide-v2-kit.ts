/**
 * Shared setup of the elide tests (test/elide-v2*.test.ts): a scope whose genesis makes A an
 * admin and B, C, D, E writers, hosts opened through `ScopeRegistry` (memory, or a data
 * directory), and a poll loop between two hosts as a v2 session runs it (request, answer,
 * accept), counting the bytes of both messages.
 */
import { encodeCommandV2, type SignedCommandV2 } from '../protocol/command-v2.js';
import { CommandKind, Role } from '../protocol/constants-v2.js';
import { encodeMessageV2 } from '../protocol/envelope-v2.js';
import { encodeGenesisBody } from '../protocol/genesis.js';
import { identityFromSecret, toHex, type Identity } from '../protocol/keys.js';
import type { PollRequest, PollResponse } from '../protocol/messages-v2.js';
import type { PeerRef, ScopeHost } from '../agent/sync/scope-host.js';
import { ScopeRegistry } from '../agent/sync/scope-registry.js';

const who = (s: number): Identity => identityFromSecret(new Uint8Array(32).fill(s));
export const [A, B, C, D, E] = [11, 12, 13, 14, 15].map(who) as [Identity, Identity, Identity, Identity, Identity];
const W = Role.Read | Role.Write;

export const G: SignedCommandV2 = encodeCommandV2(null, {
  parents: [], author: A.author, seq: 0, kind: CommandKind.Genesis,
  payload: encodeGenesisBody({
    format: 1, name: 'fleet/elide', nonce: new Uint8Array(16), flags: 0, retention: { maxCommands: 0, maxBytes: 0, maxAgeS: 0 },
    members: [{ publicKey: A.publicKey, roles: W | Role.Admin }, ...[B, C, D, E].map((x) => ({ publicKey: x.publicKey, roles: W }))],
  }),
}, (m) => A.sign(m));

export const peer = (id: Identity): PeerRef => ({ id: id.peerId, publicKey: id.publicKey, trusted: true });

/** `n` data commands by `by` in one chain on the genesis, 100-byte payloads. */
export function chainOf(by: Identity, n: number): SignedCommandV2[] {
  const out: SignedCommandV2[] = [];
  for (let i = 0; i < n; i++) {
    const parents = [i === 0 ? G.id : out[i - 1]!.id];
    out.push(encodeCommandV2(G.id, { parents, author: by.author, seq: i + 1, kind: CommandKind.Data, payload: new Uint8Array(100).fill(i & 0xff) }, (m) => by.sign(m)));
  }
  return out;
}

export interface Host {
  reg: ScopeRegistry;
  h: ScopeHost;
}

/** A's registry creates the scope, another's joins it from `from` (default A), or finds it in `dataDir`. */
export async function host(id: Identity, o: { elide?: boolean; dataDir?: string; nowS?: () => number; from?: Identity; keep?: number } = {}): Promise<Host> {
  const retention = o.keep === undefined ? ('forever' as const) : { commands: o.keep };
  const reg = await ScopeRegistry.open({
    identity: id, scopes: { max: Infinity, retention: { '*': retention }, join: ['fleet/elide'] }, durability: { mode: 'none' },
    ...(o.dataDir === undefined ? {} : { dataDir: o.dataDir }), ...(o.elide === true ? { elide: true } : {}), ...(o.nowS ? { nowS: o.nowS } : {}),
  });
  if (reg.byId(G.id) === undefined) {
    const v = id === A ? await reg.create(G) : await reg.join('fleet/elide', G.id, (o.from ?? A).publicKey);
    if (!v.ok) throw new Error(v.detail);
  }
  return { reg, h: reg.byId(G.id)! };
}

/** Put `cmds` into `h` as if received from their author. */
export async function seed(h: ScopeHost, cmds: readonly SignedCommandV2[]): Promise<void> {
  const r = await h.ingest.receive(cmds.map((c) => c.bytes), 'seed', 'poll');
  if (r.appended.length !== cmds.length) throw new Error(`seeded ${r.appended.length} of ${cmds.length}: ${JSON.stringify(r.rejected)}`);
}

/** What a pull moved. */
export interface Pulled {
  requests: PollRequest[];
  answers: PollResponse[];
  /** Encoded bytes of every request and answer. */
  bytes: number;
}

/**
 * `to` polls `from` until an answer carries nothing; `compact`: both announced `CompactBatch` (caps 8);
 * `segment`: the polls' field 9 (with `elide`, as a session writes it when the engine setting
 * `elideSegment` is above 1,024), absent by default.
 */
export async function pull(to: Host, toId: Identity, from: Host, fromId: Identity, maxBytes: number, compact: boolean, segment?: number): Promise<Pulled> {
  const out: Pulled = { requests: [], answers: [], bytes: 0 };
  for (let i = 0; i < 5000; i++) {
    const asked = to.h.request(fromId.peerId, { maxBytes, compact });
    const req: PollRequest = segment === undefined || asked.elide !== true ? asked : { ...asked, train_bytes: 0, segment };
    const res = from.h.answer(peer(toId), req, { compact });
    out.requests.push(req);
    out.answers.push(res);
    out.bytes += encodeMessageV2(req).length + encodeMessageV2(res).length;
    await to.h.accept(peer(fromId), res);
    if (!res.more && res.items.length === 0 && res.batch === undefined) return out;
  }
  throw new Error('no quiescence');
}

/** The store's ids in handle order (hex). */
export function idsOf(h: ScopeHost): string[] {
  const s: string[] = [];
  for (let i = 0; i < h.store.size; i++) if (h.store.isRetained(i)) s.push(toHex(h.store.idOf(i)));
  return s;
}

/**
 * Compact-batch vectors (docs/PROTOCOL.md §10.7): `docs/vectors/batch.json`. A scope whose
 * genesis is by A (0x01×32; A rwa, B rw with B = 0x02×32), seven real commands, and batches of
 * them as protocol/compact-batch.ts encodes them: plain entries with full-id and index parents and
 * a two-author table, the genesis inside a batch, a run, covered (elided) commands, a cover by
 * another author (`uncovered`), a bad cover, and structural rejects. For each accepted batch the
 * file gives the rebuilt ids and signed encodings, the signatures a receiver verifies (each
 * author's covers) and the verdict per command. Deterministic; `make vectors`
 * (scripts/gen-vectors.ts) writes it; test/vectors-batch.test.ts checks it against the code.
 */
import { coverBatch } from '../protocol/batch-cover.js';
import { planVerify } from '../protocol/batch-verify.js';
import { decodeCbor, encodeCbor, type CborValue } from '../protocol/cbor.js';
import { encodeCommandV2, verifyCommandV2, type SignedCommandV2 } from '../protocol/command-v2.js';
import { commandBytesOf, decodeBatch, encodeBatch, unsignedOfBatchCommand, type BatchCommand } from '../protocol/compact-batch.js';
import { MAX_FRAME_BYTES } from '../protocol/constants.js';
import { CommandKind, Role } from '../protocol/constants-v2.js';
import { encodeMessageV2 } from '../protocol/envelope-v2.js';
import { SyncwireError } from '../protocol/errors.js';
import { encodeGenesisBody } from '../protocol/genesis.js';
import { identityFromSecret, toHex } from '../protocol/keys.js';

const A = identityFromSecret(new Uint8Array(32).fill(1));
const B = identityFromSecret(new Uint8Array(32).fill(2));
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** The scope's commands: g (genesis), b1, a1 on g; b2 on b1 and a1; b3..b6 a chain on b2. */
export function batchCommands(): Record<string, SignedCommandV2> {
  const payload = encodeGenesisBody({ format: 1, name: 'fleet/batch', nonce: new Uint8Array(16), flags: 0, members: [{ publicKey: A.publicKey, roles: Role.Read | Role.Write | Role.Admin }, { publicKey: B.publicKey, roles: Role.Read | Role.Write }], retention: { maxCommands: 0, maxBytes: 0, maxAgeS: 0 } });
  const g = encodeCommandV2(null, { parents: [], author: A.author, seq: 0, kind: CommandKind.Genesis, payload }, A.sign);
  const on = (by: typeof A, seq: number, parents: SignedCommandV2[], body: string): SignedCommandV2 =>
    encodeCommandV2(g.id, { parents: parents.map((p) => p.id), author: by.author, seq, kind: CommandKind.Data, payload: text(body) }, by.sign);
  const b1 = on(B, 1, [g], 'b1');
  const a1 = on(A, 1, [g], 'a1');
  const b2 = on(B, 2, [b1, a1], 'b2');
  const b3 = on(B, 3, [b2], 'b3');
  const b4 = on(B, 4, [b3], 'b4');
  const b5 = on(B, 5, [b4], 'b5');
  const b6 = on(B, 6, [b5], 'b6');
  return { g, b1, a1, b2, b3, b4, b5, b6 };
}

type Case = { name: string; note: string; commands: string[]; elide: string[]; corrupt?: string };

/** Accepted batches: which commands, which signatures elided (and, for `bad_cover`, a cover's signature altered). */
const CASES: Case[] = [
  { name: 'plain_entries', note: 'three signed entries: a full parent id, two authors, index parents, seq written as is per author', commands: ['b1', 'a1', 'b2'], elide: [] },
  { name: 'with_genesis', note: 'the genesis inside a batch: parents [] , seq 0; b1 names it by index 0', commands: ['g', 'b1', 'a1', 'b2'], elide: [] },
  { name: 'run', note: 'b3..b6 as one run (array of 7): the first entry\'s fields, four payloads, b6\'s signature, 0', commands: ['b2', 'b3', 'b4', 'b5', 'b6'], elide: ['b3', 'b4', 'b5'] },
  { name: 'covered', note: 'b1 elided (null), covered by b2 (same author, b1 in its past); a1 signed', commands: ['b1', 'a1', 'b2'], elide: ['b1'] },
  { name: 'cover_by_other_author', note: 'a1 elided, but its only later command b2 is by B: a1 uncovered (C2), b2 then fails as its child', commands: ['b1', 'a1', 'b2'], elide: ['a1'] },
  { name: 'bad_cover', note: 'b1 elided, its cover b2\'s signature altered: b2 bad-signature, b1 uncovered', commands: ['b1', 'a1', 'b2'], elide: ['b1'], corrupt: 'b2' },
];

/** Structural rejects: an edit of `plain_entries`' tree (or raw bytes) and the reason. */
const REJECTS: Array<{ name: string; note: string; edit: (v: CborValue[]) => CborValue }> = [
  { name: 'reject_parent_index_not_earlier', note: 'b2\'s parent index 2 is its own position', edit: (v) => (((v[1] as CborValue[][])[2]![0] = [0, 2]), v) },
  { name: 'reject_author_index_out_of_range', note: 'author index 2 in a table of 2', edit: (v) => (((v[1] as CborValue[][])[0]![1] = 2), v) },
  { name: 'reject_author_twice', note: 'the author table names B twice', edit: (v) => ((v[0] as CborValue[]).push((v[0] as CborValue[])[0]!), v) },
  { name: 'reject_parents_not_ascending', note: 'b2\'s parents [1, 0]: after substitution not ascending', edit: (v) => (((v[1] as CborValue[][])[2]![0] = [1, 0]), v) },
  { name: 'reject_run_reserved_not_zero', note: 'a run whose 7th element is 1', edit: (v) => ((v[1] as CborValue[]).push([[2], 0, 1, 0, [text('x'), text('y')], new Uint8Array(64), 1]), v) },
  { name: 'reject_run_of_one', note: 'a run with one payload', edit: (v) => ((v[1] as CborValue[]).push([[2], 0, 1, 0, [text('x')], new Uint8Array(64), 0]), v) },
  { name: 'reject_signature_length', note: 'a 63-byte signature', edit: (v) => (((v[1] as CborValue[][])[1]![5] = new Uint8Array(63)), v) },
  { name: 'reject_no_entries', note: 'an empty entry list', edit: (v) => ((v[1] = []), v) },
  { name: 'reject_seq_below_zero', note: 'a1\'s seq written as −2 for its first entry', edit: (v) => (((v[1] as CborValue[][])[1]![2] = -2), v) },
];

const hex = toHex;
function reasonOf(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    if (err instanceof SyncwireError) return err.reason;
    throw err;
  }
  throw new Error('accepted');
}

/** The file, keyed by name. */
export function batchVectors(): Record<string, unknown> {
  const cmds = batchCommands();
  const keys: Record<string, Uint8Array> = { [hex(A.author)]: A.publicKey, [hex(B.author)]: B.publicKey };
  const batches = CASES.map((c) => {
    const inputs = c.commands.map((n) => {
      let command = cmds[n]!;
      if (c.corrupt === n) command = { ...command, signature: Uint8Array.from(command.signature, (x, i) => (i === 0 ? x ^ 1 : x)) };
      return { command, elide: c.elide.includes(n) };
    });
    const bytes = encodeBatch(inputs);
    const rebuilt = decodeBatch(cmds.g!.id, bytes, MAX_FRAME_BYTES);
    const ok = (k: number): boolean => {
      const r = rebuilt[k]!;
      return r.signature !== null && verifyCommandV2({ ...r, signature: r.signature, bytes: commandBytesOf(r) }, keys[hex(r.author)]!);
    };
    return {
      name: c.name, note: c.note, bytes: hex(bytes),
      input: inputs.map((x) => ({ command: c.commands[inputs.indexOf(x)]!, elided: x.elide, ...(c.corrupt === c.commands[inputs.indexOf(x)] ? { signature_altered: true } : {}) })),
      rebuilt: rebuilt.map((r: BatchCommand) => ({ id: hex(r.id), unsigned: hex(unsignedOfBatchCommand(r)), signature: r.signature === null ? null : hex(r.signature) })),
      verify: planVerify(rebuilt),
      outcome: coverBatch(rebuilt, ok),
    };
  });
  const base = decodeCbor(hex2(batches[0]!.bytes), MAX_FRAME_BYTES, 4) as CborValue[];
  const rejects = REJECTS.map((r) => {
    const bytes = encodeCbor(r.edit(structuredClone(base)));
    return { name: r.name, note: r.note, bytes: hex(bytes), reason: reasonOf(() => decodeBatch(cmds.g!.id, bytes, MAX_FRAME_BYTES)) };
  });
  const run = hex2(batches[2]!.bytes);
  const message = encodeMessageV2({ type: 'PollResponse', scope: 0, session: 7, more: false, gap: false, total: 8, next_poll_ms: 1000, heads: [cmds.b6!.id], items: [], batch: run });
  return {
    'batch.json': {
      description: 'Compact batches (PROTOCOL.md §10.7). Scope: genesis g by A; A = ed25519 seed 0x01×32, B = 0x02×32. Commands are given signed; each batch lists its input (elided: signature left out), its bytes, the rebuilt commands (id, unsigned 5-array, signature or null), the indices whose signatures a receiver verifies (each author\'s covers) and the verdict per command (null: authenticated).',
      identities: { A: hex(A.publicKey), B: hex(B.publicKey) },
      scope_id: hex(cmds.g!.id),
      commands: Object.fromEntries(Object.entries(cmds).map(([n, c]) => [n, { id: hex(c.id), encoding: hex(c.bytes) }])),
      batches,
      rejects,
      poll_response_batch: { note: 'the run batch carried by a PollResponse (field 9), items empty', bytes: hex(message) },
    },
  };
}

function hex2(s: string): Uint8Array {
  return Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)));
}

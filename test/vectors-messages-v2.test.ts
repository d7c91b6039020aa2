/**
 * docs/vectors/messages-v2.json (scripts/vectors-messages-v2.ts) checked both ways and
 * independently of the generator: the readable form encodes to the stated bytes, the bytes decode
 * to the readable form, cbor-x reads the same values, decode-only forms decode, rejects fail with
 * their reason; the signed parts (Auth, the carried command) verify, the horizon record item
 * decodes, and the file is what the generator writes now.
 */
import { readFileSync } from 'node:fs';
import { Decoder } from 'cbor-x';
import t from 'tap';
import { decodeCbor } from '../protocol/cbor.js';
import { decodeCommandV2, verifyCommandV2 } from '../protocol/command-v2.js';
import { decodeMessageV2, encodeMessageV2 } from '../protocol/envelope-v2.js';
import { decodeHorizonRecord } from '../protocol/horizon-record.js';
import { fromHex, identityFromSecret, toHex, verifySignature } from '../protocol/keys.js';
import { MessageTypeV2, type MessageV2 } from '../protocol/messages-v2.js';
import { authTranscriptV2 } from '../protocol/seal-keys.js';
import { fromReadable, loadVectors, reasonOf, toReadable, type Readable } from '../testkit/vectors.js';

interface Reject {
  name: string;
  reason: string;
  hex: string;
}
interface MessagesV2File {
  cases: Array<{
    name: string;
    message: Readable;
    cbor: string;
    auth?: { challenger_hello: string; signer_hello: string; signer_key: string; transcript: string };
    answers?: string;
    command_id?: string;
    command_scope_id?: string;
  }>;
  decode_only: Array<{ name: string; cbor: string; message: Readable }>;
  rejects: Reject[];
  item_rejects: Reject[];
}

const v = loadVectors<MessagesV2File>('messages-v2.json');
const byName = new Map(v.cases.map((c) => [c.name, c]));
const cborx = new Decoder({ useRecords: false, mapsAsObjects: false, copyBuffers: true });

t.test('every case: readable → encode gives cbor; cbor → decode gives readable; cbor-x agrees', async (t) => {
  const types = new Set<string>();
  for (const c of v.cases) {
    const msg = fromReadable(c.message) as MessageV2;
    t.equal(toHex(encodeMessageV2(msg)), c.cbor, `${c.name}: encode`);
    const decoded = decodeMessageV2(fromHex(c.cbor));
    t.same(toReadable(decoded), c.message, `${c.name}: decode`);
    t.same(toReadable(cborx.decode(fromHex(c.cbor)) as unknown), toReadable(decodeCbor(fromHex(c.cbor))), `${c.name}: cbor-x reads the same`);
    types.add(decoded.type);
  }
  t.same([...types].sort(), Object.keys(MessageTypeV2).sort(), 'every v2 message type has a case');
});

t.test('the cases the design names (§3.3, §3.6, §3.7, §10)', async (t) => {
  t.equal(byName.get('unsubscribe_scope_0')?.cbor, '820700', 'Unsubscribe for scope 0');
  t.equal(fromHex(byName.get('scopes_open')!.cbor).length, 65, "§3.3's Scopes example is 65 bytes");
  t.equal(fromHex(byName.get('poll_request_window')!.cbor).length, 45, "§3.3's windowed poll is 45 bytes");
  const scopes = byName.get('scopes_open_close')!.message as { open: unknown[]; close: unknown[] };
  t.ok(scopes.open.length > 0 && scopes.close.length > 0, 'a Scopes that opens and closes');
  t.ok(((byName.get('scopes_ack_refused')!.message as { refused: unknown[] }).refused.length) > 0, 'a ScopesAck with refusals');
  for (const name of ['error_busy_scoped', 'error_unknown_scope', 'error_not_a_member']) {
    t.equal(fromHex(byName.get(name)!.cbor)[0], 0x85, `${name}: Error with scope (four fields)`);
  }
  for (const name of ['error_unauthorized', 'error_unsupported_version']) {
    t.equal(fromHex(byName.get(name)!.cbor)[0], 0x84, `${name}: Error without scope (exactly three fields)`);
  }
});

t.test('the UnsupportedVersion answer: decoding the v1 Hello it answers is refused with its code and text', async (t) => {
  const c = byName.get('error_unsupported_version')!;
  const answer = decodeMessageV2(fromHex(c.cbor)) as Extract<MessageV2, { type: 'Error' }>;
  let refusal: { reason?: string; message?: string } = {};
  try {
    decodeMessageV2(fromHex(c.answers!));
  } catch (err) {
    refusal = err as { reason: string; message: string };
  }
  t.equal(refusal.reason, 'UnsupportedVersion');
  t.equal(refusal.message, answer.message, 'the refusal text is the answer sent');
  t.equal(answer.code, 3, 'code 3');
  const v1 = loadVectors<{ rejects: Array<{ name: string; hex: string }> }>('messages-v2.json').rejects.find((k) => k.name.startsWith('the v1 Hello'));
  t.equal(c.answers, v1?.hex, "it answers the v1 Hello of the rejects (the last v1 release's hello_a)");
});

t.test('signed parts verify; the poll answer items are a horizon record and a command', async (t) => {
  const auth = byName.get('auth_b')!;
  const a = auth.auth!;
  t.equal(toHex(authTranscriptV2(fromHex(a.challenger_hello), fromHex(a.signer_hello))), a.transcript, 'transcript');
  t.equal(a.challenger_hello, byName.get('hello_a')!.cbor, 'over hello_a');
  t.equal(a.signer_hello, byName.get('hello_b')!.cbor, 'and hello_b');
  const sig = (decodeMessageV2(fromHex(auth.cbor)) as Extract<MessageV2, { type: 'Auth' }>).signature;
  t.ok(verifySignature(fromHex(a.signer_key), fromHex(a.transcript), sig), 'Auth signature verifies');
  const B = identityFromSecret(new Uint8Array(32).fill(0x02));
  const answer = byName.get('poll_response_gap_record')!;
  const poll = decodeMessageV2(fromHex(answer.cbor)) as Extract<MessageV2, { type: 'PollResponse' }>;
  t.ok(poll.gap, 'gap');
  const [record, command] = poll.items;
  t.equal(record![0], 0x83, 'a horizon record item first');
  const r = decodeHorizonRecord(record!);
  t.equal(r.depth, 41);
  t.ok(r.frontier.length > 0, 'with a frontier');
  t.equal(command![0], 0x86, 'then a command');
  const cmd = decodeCommandV2(fromHex(answer.command_scope_id!), command!);
  t.equal(toHex(cmd.id), answer.command_id, 'its id in the stated scope');
  t.equal(toHex(cmd.parents[0]!), toHex(r.id), 'the record names its parent');
  t.ok(verifyCommandV2(cmd, B.publicKey), 'and it verifies');
});

t.test('decode-only vectors decode to the stated message', async (t) => {
  for (const c of v.decode_only) t.same(toReadable(decodeMessageV2(fromHex(c.cbor))), c.message, c.name);
  const bare = v.decode_only.filter((c) => c.name.startsWith('bare_push'));
  t.ok(bare.length > 0, 'a bare push among them');
  const push = byName.get('push')!.message as { commands: Readable[] };
  for (const c of bare) t.same((c.message as { commands: Readable[] }).commands, push.commands, `${c.name}: the push case's command`);
});

t.test('reject vectors fail with the stated reason', async (t) => {
  for (const r of v.rejects) t.equal(reasonOf(() => decodeMessageV2(fromHex(r.hex))), r.reason, r.name);
  t.ok(v.rejects.some((r) => r.reason === 'UnsupportedVersion'), 'the v1 Hello among them');
});

t.test('item reject vectors: not a horizon record, with the stated reason', async (t) => {
  for (const r of v.item_rejects) t.equal(reasonOf(() => decodeHorizonRecord(fromHex(r.hex))), r.reason, r.name);
});

t.test('the committed file is what the generator writes', async (t) => {
  const { messagesV2Vectors } = await import('../scripts/vectors-messages-v2.js');
  const committed = readFileSync(new URL('../docs/vectors/messages-v2.json', import.meta.url), 'utf8');
  t.equal(committed, `${JSON.stringify(messagesV2Vectors()['messages-v2.json'], null, 2)}\n`, 'run make vectors');
});

t.test('poll train cases (PROTOCOL.md §10.6): the optional trailing fields as the spec writes them', async (t) => {
  const req = decodeMessageV2(fromHex(byName.get('poll_request_train')!.cbor));
  t.equal(req.type === 'PollRequest' && req.train_bytes, 1 << 20, 'train_bytes is MAX_TRAIN_BYTES');
  t.ok(byName.get('poll_request_train')!.cbor.endsWith('f41a00100000'), 'field 7 elide false precedes field 8');
  const mid = decodeMessageV2(fromHex(byName.get('poll_response_train')!.cbor));
  t.ok(mid.type === 'PollResponse' && mid.train === true && mid.more, 'a middle answer: train and more');
  t.ok(byName.get('poll_response_train')!.cbor.endsWith('f6f5'), 'field 9 batch null precedes field 10 train true');
  const last = decodeMessageV2(fromHex(byName.get('poll_response_train_last')!.cbor));
  t.ok(last.type === 'PollResponse' && last.train === false && !last.more, 'the last answer: train false');
});

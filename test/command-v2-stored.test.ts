/**
 * `decodeStoredCommandV2` (protocol/command-v2.ts): a body read back from this host's store under
 * its stored id decodes to the same command as the hashing decoder, held or signed, and its
 * structure is still checked.
 */
import t from 'tap';
import { decodeHeldCommandV2, decodeStoredCommandV2, encodeCommandV2, heldCommandV2, unsignedOf } from '../protocol/command-v2.js';
import { fingerprint } from '../protocol/command.js';
import { CommandKind } from '../protocol/constants-v2.js';
import { MalformedError } from '../protocol/errors.js';
import { generateIdentity } from '../protocol/keys.js';

t.test('same command as the hashing decoder, signed or held; malformed bodies still refused', async (t) => {
  const me = generateIdentity();
  const scope = new Uint8Array(32).fill(3);
  const c = encodeCommandV2(scope, { parents: [new Uint8Array(32).fill(1)], author: fingerprint(me.publicKey), seq: 4, kind: CommandKind.Data, payload: Uint8Array.of(1, 2, 3) }, (m) => me.sign(m));
  const held = heldCommandV2(c, unsignedOf(c.bytes), c.id);
  for (const [name, bytes] of [['signed', c.bytes], ['held', held.bytes]] as const) {
    t.same(decodeStoredCommandV2(bytes, c.id), decodeHeldCommandV2(scope, bytes), `${name}: same fields, bytes and id`);
  }
  const id = c.id.slice();
  const got = decodeStoredCommandV2(c.bytes, id);
  id.fill(0);
  t.notSame(got.id, id, 'the id is a copy');
  t.throws(() => decodeStoredCommandV2(c.bytes.subarray(0, c.bytes.length - 1), c.id), MalformedError, 'a truncated body is refused');
});

/**
 * `cbor.json` (docs/PROTOCOL.md §3, §8.1): every reject vector is refused by the version-2 message
 * decoder with its stated reason, the profile violations by the CBOR decoder itself, and the file
 * is what scripts/vectors-cbor.ts generates.
 */
import t from 'tap';
import { decodeCbor } from '../protocol/cbor.js';
import { decodeMessageV2 } from '../protocol/envelope-v2.js';
import { fromHex } from '../protocol/keys.js';
import { cborRejects, type CborReject } from '../scripts/vectors-cbor.js';
import { loadVectors, reasonOf } from '../testkit/vectors.js';

const file = loadVectors<{ rejects: CborReject[] }>('cbor.json');

t.test('cbor.json is what the generator writes', async (t) => {
  t.same(file.rejects, cborRejects());
});

t.test('every reject fails with its reason; profile violations already in the CBOR decoder', async (t) => {
  for (const r of file.rejects) {
    const bytes = fromHex(r.hex);
    t.equal(reasonOf(() => decodeMessageV2(bytes)), r.reason, r.name);
    if (r.profile) t.equal(reasonOf(() => decodeCbor(bytes)), 'Malformed', `${r.name}: refused by the CBOR decoder`);
    else t.doesNotThrow(() => decodeCbor(bytes), `${r.name}: valid CBOR, refused as a message`);
  }
  t.equal(file.rejects.filter((r) => r.profile).length, 12, 'twelve profile violations');
});

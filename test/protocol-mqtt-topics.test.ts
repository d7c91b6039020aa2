/** MQTT topics (protocol/mqtt-topics.ts) and the FNV-1a hash (fnv.ts) behind subscription slots. */
import t from 'tap';
import {
  fnv1aBytes,
  fnv1aString,
  identityFromSecret,
  inboxFilter,
  inboxTopic,
  presencePeerOf,
  presenceTopic,
  senderOf,
} from '../protocol/index.js';

const A = identityFromSecret(new Uint8Array(32).fill(1));
const B = identityFromSecret(new Uint8Array(32).fill(2));

t.test('FNV-1a, MQTT topics', async (t) => {
  t.equal(fnv1aString(''), 0x811c9dc5);
  t.equal(fnv1aString('a'), 0xe40c292c);
  t.equal(fnv1aString('foobar'), 0xbf9cf968);
  t.equal(fnv1aBytes(new TextEncoder().encode('foobar')), 0xbf9cf968);
  t.equal(fnv1aString(A.peerId), fnv1aBytes(new TextEncoder().encode(A.peerId)));
  t.equal(inboxTopic('syncwire', B.peerId, A.peerId), `syncwire/${B.peerId}/in/${A.peerId}`);
  t.equal(senderOf('syncwire', B.peerId, inboxTopic('syncwire', B.peerId, A.peerId)), A.peerId);
  t.equal(senderOf('syncwire', B.peerId, `syncwire/${B.peerId}/in/x`), undefined);
  t.equal(inboxFilter('syncwire', A.peerId), `syncwire/${A.peerId}/in/+`);
  t.equal(presencePeerOf('syncwire', presenceTopic('syncwire', A.peerId)), A.peerId);
});

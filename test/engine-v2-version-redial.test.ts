/**
 * protocol-v2.md §7.1 "version refusals" on real TCP: a v2 dialer whose link ended in a version
 * refusal — sent (the listener speaks v1: its `Hello` is refused) or received (the listener
 * answers `Error{UnsupportedVersion}` and closes) — redials only after its maximum redial delay
 * (30 s): the session asks the link to hold the redial (`Link.holdRedial`) and the TCP dialer
 * honours it. With a 20–100 ms reconnect backoff, the listener would otherwise see a new
 * connection every few tens of ms; here it sees one in the second after the refusal.
 */
import t from 'tap';
import type { Link } from '../agent/link.js';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import { VERSION_REDIAL_MS } from '../agent/sync/session-v2.js';
import { openTransport } from '../agent/transport/registry.js';
import { encodeMessageV2 } from '../protocol/envelope-v2.js';
import { errorMessage } from '../protocol/error-message.js';
import { generateIdentity } from '../protocol/keys.js';
import { helloV1 } from '../testkit/fuzz-inputs-v2.js';
import { until, waitFor } from '../testkit/wait.js';
import { FAST_V2 } from './engine-v2-kit.js';

for (const how of ['sent', 'received'] as const) {
  t.test(`a version refusal ${how}: the TCP dialer waits before redialling`, async (t) => {
    const listener = await openTransport('tcp-listen://127.0.0.1:0');
    t.teardown(() => listener.close());
    const v1 = generateIdentity();
    const accepted: Link[] = [];
    listener.on('link', (link) => {
      accepted.push(link);
      if (how === 'sent') link.send(helloV1(v1, { seal: true })); // a v1 agent: its Hello is refused by the v2 side
      else
        link.on('frame', () => {
          link.send(encodeMessageV2(errorMessage('UnsupportedVersion', 'protocol version 2 is not supported; this peer speaks 3')));
          void link.close();
        });
    });
    const e = await EngineV2.open({ identity: generateIdentity(), trust: { mode: 'list', keys: [v1.publicKey] }, tuning: FAST_V2 });
    t.teardown(() => e.close());
    const dialer = await openTransport(`tcp://127.0.0.1:${listener.localPort}`, { reconnectBaseMs: 20, reconnectMaxMs: 100 });
    t.teardown(() => dialer.close());
    const links: Link[] = [];
    dialer.on('link', (link) => {
      links.push(link);
      e.attach(link);
    });
    await until(() => links.length === 1 && !links[0]!.open, 20_000, 'the first link was refused and closed');
    t.equal(links[0]!.redialHoldMs, VERSION_REDIAL_MS, 'the session asked the dialer to hold its redial for 30 s');
    await until(() => e.sessions().length === 0, 20_000, 'the session is gone');
    const again = await waitFor(() => accepted.length > 1, 1000);
    t.notOk(again, `no redial within a second (the listener saw ${accepted.length} connection)`);
  });
}

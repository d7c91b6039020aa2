/**
 * Sealed links end to end through the CLI: a gateway and an agent over real TCP seal by default,
 * and an agent stopped with SIGTERM closes its sealed link with the sealed close marker (§7.6),
 * so the gateway knows at once instead of waiting for its polls to time out.
 */
import t from 'tap';
import { join } from 'node:path';
import { CliHarness, statusUntil } from '../testkit/cli-proc.js';

const h = new CliHarness();
t.teardown(() => h.cleanup());

t.test('SIGTERM sends the sealed close marker; the gateway sees the peer close its sealed link', async (tt) => {
  const gw = h.tmp();
  const ag = h.tmp();
  const gk = await h.keygen(join(gw, 'key.json'));
  const ak = await h.keygen(join(ag, 'key.json'));
  const gwSock = join(gw, 's.sock');
  const gateway = h.start(['gateway', '-d', gw, '--listen', 'tcp-listen://127.0.0.1:0', '--trust-key', ak.publicKey, '--status-socket', gwSock, '--log-level', 'info']);
  await gateway.waitStderr(/"transport open"/);
  const up = await statusUntil(gwSock, (s) => Array.isArray(s.transports) && s.transports.some((x: { localPort?: number | null }) => typeof x.localPort === 'number'));
  const port = (up.transports as { localPort?: number | null }[]).find((x) => typeof x.localPort === 'number')!.localPort!;
  const agent = h.start(['agent', '-d', ag, '--link', `tcp://127.0.0.1:${port}`, '--trust-key', gk.publicKey, '--status-socket', '', '--log-level', 'info']);
  await agent.waitStderr(/"peer up"/);
  const linked = await statusUntil(gwSock, (s) => (s.peers as { sealed?: boolean }[] | undefined)?.some((p) => p.sealed === true) === true);
  tt.ok(linked, 'the gateway reports the link sealed');
  const r = await agent.stop('SIGTERM');
  tt.equal(r.code, 0, 'the agent exits 0');
  await gateway.waitStderr(/peer closed the sealed link/, 10_000);
  tt.pass('the gateway logged the sealed close marker');
  await gateway.stop('SIGTERM');
});

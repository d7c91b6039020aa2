/**
 * agent/sync/session-inbound.ts: a refusal that was still waiting in the intake when the link
 * closed is logged all the same (CI under load lost the `SealingRequired` warning: the peer's
 * `Error` and its close arrived in one turn after a slow Hello, and the close dropped the frame).
 */
import t from 'tap';
import { encodeMessage } from '../protocol/envelope.js';
import { ReasonCode } from '../protocol/errors.js';
import { INTAKE_TURN_MS } from '../agent/sync/session-timers.js';
import { SessionInbound, type InboundSession } from '../agent/sync/session-inbound.js';
import { newSessionStats } from '../agent/sync/session-stats.js';
import { resolveSettings } from '../agent/sync/engine-settings.js';
import { Capability, PROTOCOL_VERSION } from '../protocol/constants.js';

interface Line { level: string; fields: Record<string, unknown>; msg: string }

function rig(helloMs: number) {
  const lines: Line[] = [];
  const at = (level: string) => (fields: object, msg = '') => void lines.push({ level, fields: fields as Record<string, unknown>, msg });
  const log = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  const stats = newSessionStats();
  const session = {
    peerId: '0123456789abcdef', link: { description: 'test link' }, authenticated: false, channel: null, stats,
    handshakes: {
      onHello: () => {
        const end = performance.now() + helloMs; // a Hello costs signature work: it can use the turn
        while (performance.now() < end) { /* spin */ }
      },
      onAuth: () => undefined,
    },
    responder: { handle: () => false }, requester: {},
    sendError: () => undefined, close: async () => undefined,
  } as unknown as InboundSession; // only the members SessionInbound reaches before the link is up
  return { inbound: new SessionInbound({ settings: resolveSettings({}), log }, session), lines, stats };
}

const hello = encodeMessage({
  type: 'Hello', version: PROTOCOL_VERSION, public_key: new Uint8Array(32), max_frame: 65536,
  caps: Capability.Seal, nonce: new Uint8Array(16), ephemeral: new Uint8Array(32),
});
const refusal = (n: number) =>
  encodeMessage({ type: 'Error', code: ReasonCode.SealingRequired, message: `peer ${n} requires sealing`, retry_after_ms: null });

t.test('a refusal overtaken by the close is still logged, once', async (t) => {
  const { inbound, lines, stats } = rig(INTAKE_TURN_MS + 4);
  inbound.push(hello);
  inbound.push(refusal(1));
  inbound.push(refusal(2));
  inbound.stop();
  t.equal(stats.intakeDropped, 2, 'both waiting frames are counted as dropped');
  const warns = lines.filter((l) => l.level === 'warn');
  t.equal(warns.length, 1, 'one warning, not one per frame');
  t.equal(warns[0]?.fields.code, ReasonCode.SealingRequired, 'it carries the reason code');
  t.match(String(warns[0]?.fields.message), /peer 1 requires sealing/, "and the peer's message");
});

t.test('a refusal handled in time is logged by the normal path, and stop adds nothing', async (t) => {
  const { inbound, lines, stats } = rig(0);
  inbound.push(hello);
  inbound.push(refusal(1));
  inbound.stop();
  t.equal(stats.intakeDropped, 0);
  t.equal(lines.filter((l) => l.level === 'warn').length, 1);
});

t.test('a flood of refusals dropped at close is looked at only in its first frames', async (t) => {
  const { inbound, lines, stats } = rig(INTAKE_TURN_MS + 4);
  inbound.push(hello);
  for (let i = 0; i < 1000; i++) inbound.push(encodeMessage({ type: 'Unsubscribe' }));
  inbound.push(refusal(9));
  inbound.stop();
  t.equal(stats.intakeDropped, 1001);
  t.equal(lines.filter((l) => l.level === 'warn').length, 0, 'a refusal behind 1,000 frames is not searched for');
});

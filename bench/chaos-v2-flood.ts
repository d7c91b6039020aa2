/**
 * Slot flood on protocol 2: N authenticated peers join one open-read fleet scope of a target
 * EngineV2 (subscription capacity 128) and subscribe to it at once. Exactly `capacity` hold slots;
 * the rest are refused `MaximumSubscriptionsExceeded` with a `retry_after_ms` (protocol-v2 §11),
 * then poll, never faster than the pace they were given. Untrusted peers (over real TCP) get
 * `Unauthorized` and never authenticate; raw links that skip the handshake and fire `Subscribe`
 * and `PollRequest` never reach the subscription table.
 */
import { randomBytes } from 'node:crypto';
import type { Link } from '../agent/link.js';
import { createMemoryLinkPair } from '../agent/memory-link.js';
import { EngineV2 } from '../agent/sync/engine-v2.js';
import { Role } from '../protocol/constants-v2.js';
import { decodeMessageV2, encodeMessageV2 } from '../protocol/envelope-v2.js';
import { ReasonCode } from '../protocol/errors.js';
import { generateIdentity, type Identity } from '../protocol/keys.js';
import type { MessageV2 } from '../protocol/messages-v2.js';
import { sleep, until, type ChaosConfig, type Figures } from './chaos/common.js';

const JITTER = 0.2;
const SLACK_MS = 25;
const FLEET = 'fleet/flood';

interface PeerLog {
  id: string;
  engine: EngineV2;
  acked: boolean;
  refusals: number;
  refusedWithHint: number;
  unauthorized: number;
  /** Last pacing instruction for polls: when and how long to wait. */
  pollNotBefore: number;
  subNotBefore: number;
  pollsAfterRefusal: number;
  subsAfterRefusal: number;
  violations: string[];
}

function decodeOrNull(body: Uint8Array): MessageV2 | null {
  try {
    return decodeMessageV2(body);
  } catch {
    return null;
  }
}

const newLog = (id: string, engine: EngineV2): PeerLog => ({ id, engine, acked: false, refusals: 0, refusedWithHint: 0, unauthorized: 0, pollNotBefore: 0, subNotBefore: 0, pollsAfterRefusal: 0, subsAfterRefusal: 0, violations: [] });

/** Run the flood; `scale` shrinks the peer counts and the observation window (tests). */
export async function runFloodV2(cfg: ChaosConfig, scale = 1): Promise<Figures> {
  const n = Math.max(160, Math.round((cfg.quick ? 300 : 1000) * scale));
  const nUnauth = Math.max(5, Math.round((cfg.quick ? 50 : 200) * scale));
  const nRaw = Math.max(5, Math.round((cfg.quick ? 50 : 200) * scale));
  const capacity = 128;
  const windowMs = Math.round((cfg.quick ? 7000 : 12000) * Math.min(1, scale * 2));
  const ids: Identity[] = Array.from({ length: n }, () => generateIdentity());
  const targetId = generateIdentity();
  const target = await EngineV2.open({
    identity: targetId,
    trust: { mode: 'list', keys: ids.map((i) => i.publicKey) },
    tuning: { subscriptionCapacity: capacity, subscribe: false },
    scopes: { max: Infinity },
  });
  await target.createScope({ name: FLEET, members: [{ publicKey: targetId.publicKey, roles: Role.Read | Role.Write | Role.Admin }], openRead: true });
  for (let i = 0; i < 20; i++) await target.commit(FLEET, randomBytes(64));
  const peers: PeerLog[] = [];
  const links: Link[] = [];
  const now = (): number => performance.now();

  const wire = async (identity: Identity): Promise<PeerLog> => {
    const engine = await EngineV2.open({
      identity,
      trust: { mode: 'list', keys: [targetId.publicKey] },
      tuning: { subscribe: { remainOpenS: 3, maxBytes: 1 << 20 } },
      scopes: { join: [FLEET] },
    });
    const log = newLog(identity.peerId, engine);
    // Unsealed, so that this observer can read the wire (a sealed link shows it only 0x53 bodies):
    // the flood measures slot admission and pacing, which sealing does not change.
    const [lt, lp] = createMemoryLinkPair({ seal: 'off' });
    links.push(lt, lp);
    // What the target says to this peer.
    lp.on('frame', (body) => {
      const m = decodeOrNull(body);
      if (m === null) return;
      const t = now();
      if (m.type === 'SubscribeAck') log.acked = true;
      else if (m.type === 'PollResponse' && !m.more) log.pollNotBefore = Math.max(log.pollNotBefore, t + m.next_poll_ms * (1 - JITTER) - SLACK_MS);
      else if (m.type === 'Error' && m.code === ReasonCode.MaximumSubscriptionsExceeded) {
        log.refusals++;
        if (m.retry_after_ms !== null && m.retry_after_ms > 0) {
          log.refusedWithHint++;
          // The hint paces the next Subscribe; polls keep the pace of next_poll_ms.
          log.subNotBefore = t + m.retry_after_ms * (1 - JITTER) - SLACK_MS;
        }
      } else if (m.type === 'Error' && m.code === ReasonCode.Busy && m.retry_after_ms !== null) {
        log.pollNotBefore = t + m.retry_after_ms * (1 - JITTER) - SLACK_MS;
      } else if (m.type === 'Error' && m.code === ReasonCode.Unauthorized) log.unauthorized++;
    });
    // What this peer sends the target. Only peers that never held a slot are judged: one that held
    // a slot (3 s here) may get pushes it cannot place and then poll to repair at once.
    lt.on('frame', (body) => {
      const m = decodeOrNull(body);
      if (m === null || log.refusals === 0 || log.acked) return;
      const t = now();
      if (m.type === 'PollRequest') {
        log.pollsAfterRefusal++;
        if (t < log.pollNotBefore) log.violations.push(`poll ${Math.round(log.pollNotBefore - t)} ms early`);
      } else if (m.type === 'Subscribe') {
        log.subsAfterRefusal++;
        if (t < log.subNotBefore) log.violations.push(`subscribe ${Math.round(log.subNotBefore - t)} ms early`);
      }
    });
    return log;
  };

  const everUp = new Set<string>();
  target.on('peer-up', (id) => everUp.add(id));
  const held = (): number => target.subscriptionSlots.used;
  // Engines first, then every link attached in the same tick.
  for (const id of ids) peers.push(await wire(id));
  const t0 = Date.now();
  for (let i = 0; i < peers.length; i++) {
    target.attach(links[2 * i]!);
    peers[i]!.engine.attach(links[2 * i + 1]!);
  }
  // Untrusted peers come in over real TCP (a memory link drops the frames sent just before close).
  const { openTransport } = await import('../agent/transport/registry.js');
  // All dial from 127.0.0.1 at once: room for each in the pre-auth pool, so that this measures
  // the engine's answers, not the listener's eviction (test/tcp-flood.test.ts does that).
  const listener = await openTransport('tcp-listen://127.0.0.1:0', { selfId: targetId.peerId, maxPreAuth: nUnauth, maxPreAuthPerAddress: nUnauth });
  listener.on('link', (l) => target.attach(l));
  const dialers: { close(): Promise<void> }[] = [listener];
  const untrusted: PeerLog[] = [];
  for (let i = 0; i < nUnauth; i++) {
    const identity = generateIdentity();
    const engine = await EngineV2.open({ identity, trust: { mode: 'open', keys: [] } });
    const log = newLog(identity.peerId, engine);
    const d = await openTransport(`tcp://127.0.0.1:${listener.localPort}`, { selfId: identity.peerId, reconnectBaseMs: 2000 });
    d.on('link', (l) => {
      l.on('frame', (body) => {
        const m = decodeOrNull(body);
        if (m !== null && m.type === 'Error' && m.code === ReasonCode.Unauthorized) log.unauthorized++;
      });
      engine.attach(l);
    });
    dialers.push(d);
    untrusted.push(log);
  }
  // Raw links that skip the handshake and fire Subscribe (and polls) straight away.
  const rawSub = encodeMessageV2({ type: 'Subscribe', scope: 0, remain_open: 300, max_bytes: 1 << 20, sample: [], via: [] });
  const rawPoll = encodeMessageV2({ type: 'PollRequest', scope: 0, session: 1, max_bytes: 65536, heads: [], sample: [], window: 0 });
  for (let i = 0; i < nRaw; i++) {
    // Unsealed too: on a sealed link these would be dropped as unsealed before anything looked at them.
    const [lt, lr] = createMemoryLinkPair({ seal: 'off' });
    links.push(lt, lr);
    target.attach(lt);
    for (let k = 0; k < 5; k++) {
      lr.send(rawSub);
      lr.send(rawPoll);
    }
  }

  const settled = await until(() => peers.every((p) => p.acked || p.refusals > 0), 60_000);
  const settleMs = Date.now() - t0;
  const heldAtOnce = held();
  cfg.log(`flood-v2: settled=${settled} in ${settleMs} ms, table ${heldAtOnce}/${capacity}`);
  const end = Date.now() + windowMs;
  let maxHeld = heldAtOnce;
  while (Date.now() < end) {
    await target.commit(FLEET, randomBytes(48));
    maxHeld = Math.max(maxHeld, held());
    await sleep(250);
  }
  const heldAtEnd = held();
  const unauthAdmitted = untrusted.filter((p) => everUp.has(p.id)).length;
  const refused = peers.filter((p) => p.refusals > 0 && !p.acked);
  const violations = peers.flatMap((p) => p.violations.map((v) => `${p.id}: ${v}`));
  if (violations.length > 0) cfg.log(`flood-v2: pace violations, first: ${violations.slice(0, 5).join('; ')}`);
  const figures: Figures = {
    peers: n,
    capacity,
    held: heldAtOnce,
    held_at_end: heldAtEnd,
    held_max: maxHeld,
    settle_ms: settleMs,
    acked: peers.filter((p) => p.acked).length,
    refused: refused.length,
    refused_with_hint: peers.filter((p) => p.refusedWithHint > 0 && !p.acked).length,
    refused_then_polled: refused.filter((p) => p.pollsAfterRefusal > 0).length,
    polls_after_refusal: refused.reduce((a, p) => a + p.pollsAfterRefusal, 0),
    resubscribes_after_refusal: refused.reduce((a, p) => a + p.subsAfterRefusal, 0),
    pace_violations: violations.length,
    observe_ms: windowMs,
    unauthenticated: nUnauth,
    unauthenticated_told_unauthorized: untrusted.filter((p) => p.unauthorized > 0).length,
    raw_preauth_links: nRaw,
    unauthenticated_admitted: unauthAdmitted,
    target_sessions: target.sessions().filter((s) => s.authenticated).length,
  };
  await Promise.all(dialers.map((d) => d.close()));
  await target.close();
  await Promise.all([...peers, ...untrusted].map((p) => p.engine.close()));
  await Promise.all(links.map((l) => l.close()));
  cfg.log(`flood-v2: ${JSON.stringify(figures)}`);
  return figures;
}

/** The flood's invariants, one line per broken one. */
export function violationsFloodV2(f: Figures): string[] {
  const out: string[] = [];
  const want = (key: string, ok: (v: unknown) => boolean, what: string): void => {
    if (!ok(f[key])) out.push(`flood-v2.${key} = ${JSON.stringify(f[key])}, want ${what}`);
  };
  want('held', (v) => v === f.capacity, 'the table capacity');
  want('acked', (v) => typeof v === 'number' && v >= (f.capacity as number), '>= capacity');
  want('refused_with_hint', (v) => v === (f.peers as number) - (f.acked as number), 'peers - acked');
  want('unauthenticated_admitted', (v) => v === 0, '0');
  want('unauthenticated_told_unauthorized', (v) => v === f.unauthenticated, 'unauthenticated');
  want('pace_violations', (v) => v === 0, '0');
  return out;
}

/**
 * Slot flood: N authenticated peers subscribe to one target at once (capacity 128). Exactly
 * `capacity` hold slots; the rest are refused with `MaximumSubscriptionsExceeded` and a
 * `retry_after_ms`, then poll, never faster than the pace they were given. Untrusted peers get
 * `Unauthorized` and never reach the subscription table (nor do raw pre-auth `Subscribe`s).
 */
import { createMemoryLinkPair } from '../../agent/memory-link.js';
import type { Link } from '../../agent/link.js';
import { MemoryStore } from '../../agent/store/memory-store.js';
import { Engine } from '../../agent/sync/engine.js';
import { decodeMessage, encodeMessage } from '../../protocol/envelope.js';
import { ReasonCode } from '../../protocol/errors.js';
import { generateIdentity, peerIdOf, type Identity } from '../../protocol/keys.js';
import type { Message } from '../../protocol/messages.js';
import { randomBytes } from 'node:crypto';
import { sleep, until, type ChaosConfig, type Figures } from './common.js';

const JITTER = 0.2;
const SLACK_MS = 25;

interface PeerLog {
  id: string;
  engine: Engine;
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

function decodeOrNull(body: Uint8Array): Message | null {
  try {
    return decodeMessage(body);
  } catch {
    return null;
  }
}

export async function runFlood(cfg: ChaosConfig): Promise<Figures> {
  const n = cfg.quick ? 300 : 1000;
  const nUnauth = cfg.quick ? 50 : 200;
  const nRaw = cfg.quick ? 50 : 200;
  const capacity = 128;
  const windowMs = cfg.quick ? 7000 : 12000;
  const ids: Identity[] = Array.from({ length: n }, () => generateIdentity());
  const targetId = generateIdentity();
  const target = new Engine({
    identity: targetId,
    store: new MemoryStore(),
    trust: { mode: 'list', keys: ids.map((i) => i.publicKey) },
    subscriptionCapacity: capacity,
    subscribe: false,
  });
  for (let i = 0; i < 20; i++) await target.commit(randomBytes(64));
  const peers: PeerLog[] = [];
  const links: Link[] = [];
  const now = (): number => performance.now();

  const wire = (identity: Identity, trustOpen: boolean): PeerLog => {
    const engine = new Engine({
      identity,
      store: new MemoryStore(),
      trust: trustOpen ? { mode: 'open', keys: [] } : { mode: 'list', keys: [targetId.publicKey] },
      subscribe: { remainOpenS: 3, maxBytes: 1 << 20 },
    });
    const log: PeerLog = { id: identity.peerId, engine, acked: false, refusals: 0, refusedWithHint: 0, unauthorized: 0, pollNotBefore: 0, subNotBefore: 0, pollsAfterRefusal: 0, subsAfterRefusal: 0, violations: [] };
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
          // PROTOCOL.md §9.2: the hint paces the next Subscribe; polls keep the pace of
          // next_poll_ms (a poll round already under way may end at its own hint's pace).
          log.subNotBefore = t + m.retry_after_ms * (1 - JITTER) - SLACK_MS;
        }
      } else if (m.type === 'Error' && m.code === ReasonCode.Busy && m.retry_after_ms !== null) {
        log.pollNotBefore = t + m.retry_after_ms * (1 - JITTER) - SLACK_MS;
      } else if (m.type === 'Error' && m.code === ReasonCode.Unauthorized) log.unauthorized++;
    });
    // What this peer sends the target. Only peers that never held a slot are judged: one that held
    // a slot (a 3 s subscription here, re-granted when settling is slow) may still get pushes it
    // cannot place, and then polls to repair at once (PROTOCOL.md §9.7), refused or not.
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
    target.attach(lt);
    engine.attach(lp);
    return log;
  };

  // Every peer that ever authenticated (a subscription slot needs an authenticated session).
  const everUp = new Set<string>();
  target.on('peer-up', (id) => everUp.add(id));
  const held = (): number => target.snapshot().subscriptions.used;
  const t0 = Date.now();
  // All at once: every link is attached in the same tick.
  for (const id of ids) peers.push(wire(id, false));
  // Untrusted peers come in over real TCP (a memory link drops the frames sent just before close).
  const { openTransport } = await import('../../agent/transport/registry.js');
  // All of them dial from 127.0.0.1 at once: room for each in the pre-auth pool, so that this
  // measures the engine's answers, not the listener's eviction (test/tcp-flood.test.ts does that).
  const listener = await openTransport('tcp-listen://127.0.0.1:0', { selfId: targetId.peerId, maxPreAuth: nUnauth, maxPreAuthPerAddress: nUnauth });
  listener.on('link', (l) => target.attach(l));
  const dialers: { close(): Promise<void> }[] = [listener];
  const untrusted: PeerLog[] = [];
  for (let i = 0; i < nUnauth; i++) {
    const identity = generateIdentity();
    const engine = new Engine({ identity, store: new MemoryStore(), trust: { mode: 'open', keys: [] } });
    const log: PeerLog = { id: identity.peerId, engine, acked: false, refusals: 0, refusedWithHint: 0, unauthorized: 0, pollNotBefore: 0, subNotBefore: 0, pollsAfterRefusal: 0, subsAfterRefusal: 0, violations: [] };
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
  // Raw links that skip the handshake and fire Subscribe (and Polls) straight away.
  const rawSub = encodeMessage({ type: 'Subscribe', remain_open: 300, max_bytes: 1 << 20, sample: [], via: [] });
  const rawPoll = encodeMessage({ type: 'PollRequest', session: 1, max_bytes: 65536, heads: [], sample: [] });
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

  const settled = await until(() => peers.every((p) => p.acked || p.refusals > 0), 30000);
  const settleMs = Date.now() - t0;
  const heldAtOnce = held();
  cfg.log(`flood: settled=${settled} in ${settleMs} ms, table ${heldAtOnce}/${capacity}`);
  // Observe pacing for a while with some traffic to sync.
  const end = Date.now() + windowMs;
  let maxHeld = heldAtOnce;
  while (Date.now() < end) {
    await target.commit(randomBytes(48));
    maxHeld = Math.max(maxHeld, held());
    await sleep(250);
  }
  const heldAtEnd = held();
  // An untrusted peer admitted at any time (not only at the end): authenticated, hence able to hold a slot.
  const unauthAdmitted = untrusted.filter((p) => everUp.has(p.id)).length;
  const refused = peers.filter((p) => p.refusals > 0 && !p.acked);
  const violations = peers.flatMap((p) => p.violations.map((v) => `${p.id}: ${v}`));
  if (violations.length > 0) cfg.log(`flood: pace violations, first: ${violations.slice(0, 5).join('; ')}`);
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
    target_sessions: target.snapshot().peers.filter((p) => p.authenticated).length,
  };
  void peerIdOf;
  await Promise.all(dialers.map((d) => d.close()));
  await target.close();
  await Promise.all([...peers, ...untrusted].map((p) => p.engine.close()));
  await Promise.all(links.map((l) => l.close()));
  cfg.log(`flood: ${JSON.stringify(figures)}`);
  return figures;
}

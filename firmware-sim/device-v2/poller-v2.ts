/**
 * The v2 device's client side of sync for one scope on its uplink (design §4.6, §7 items 7–8):
 * polls with `window` = the scope's ring size, naming its heads, the peer's last heads it holds,
 * the round's pending records, its horizon entries (deepest first, ≤ 32) and, while it holds none
 * of the peer's last heads, a spread of its ring;
 * keeps the answer's records as pending, counts a gap (once per round) when the answer says `gap`
 * and a record names an id the device lacks; polls again at once on `more`; subscribes after its
 * first completed round when the peer announces `Push`, renewing at 80 %. One poll in flight; a
 * poll unanswered for 3 s is repeated after a backoff (250 ms doubling, at most 60 s). Timers come
 * from the injected scheduler.
 */
import type { ArqScheduler } from '../../protocol/arq/driver.js';
import { Capability, MAX_HEADS, MAX_SAMPLE } from '../../protocol/constants.js';
import { ITEM_COMMAND, ITEM_HORIZON_RECORD, MAX_HORIZON_SAMPLE } from '../../protocol/constants-v2.js';
import { decodeHorizonRecord } from '../../protocol/horizon-record.js';
import type { MessageV2, PollResponse, Push, SubscribeAck } from '../../protocol/messages-v2.js';
import { sameId } from './scope-ring-v2.js';
import type { DeviceScope } from './scope-v2.js';
import type { DeviceV2Stats } from './types-v2.js';

/** A poll unanswered this long is presumed lost, ms. */
export const POLL_TIMEOUT_MS = 3000;
/** Period between rounds when nothing else sets one, ms (also the floor under `next_poll_ms`). */
export const MIN_POLL_MS = 1000;
/** Anti-entropy poll period while subscribed, ms. */
export const ANTI_ENTROPY_MS = 60_000;
/** Seconds a subscription is asked to stay open, and its push budget. */
export const SUBSCRIBE_REMAIN_OPEN_S = 60;
export const SUBSCRIBE_MAX_BYTES = 16384;

/** What a poller needs from its device. */
export interface PollerHost {
  send(msg: MessageV2): void;
  /** The peer's number for the poller's scope while active, else null. */
  peerNumber(slot: number): number | null;
  /** `max_bytes` of polls: the device's receive limit. */
  readonly maxBytes: number;
  readonly peerCaps: number;
  /** Offer one received command to the scope; true when it was an orphan (the device should poll). */
  ingest(slot: number, bytes: Uint8Array): boolean;
  /** A gap was seen in the scope of `slot`. */
  gap(slot: number): void;
}

/** Poll and subscription state of one scope on the link. */
export class ScopePoller {
  /** Rounds completed (an answer with `more` = false). */
  rounds = 0;
  subscribed = false;
  private active = false;
  private inFlight = false;
  private session = 0;
  private timeouts = 0;
  private gapSeen = false;
  private peerHeads: Uint8Array[] = [];
  private cancelPoll: (() => void) | null = null;
  private cancelSub: (() => void) | null = null;

  constructor(
    private readonly scope: DeviceScope,
    private readonly host: PollerHost,
    private readonly scheduler: ArqScheduler,
    private readonly stats: DeviceV2Stats,
    private readonly pollMs: number,
  ) {}

  /** The scope became active: the first round starts. */
  start(): void {
    this.stop();
    this.active = true;
    this.pollNow();
  }

  /** The scope stopped being active, or the link went down. */
  stop(): void {
    this.active = this.inFlight = this.subscribed = this.gapSeen = false;
    this.timeouts = 0;
    this.peerHeads = [];
    this.scope.pending.clear();
    this.cancelPoll?.();
    this.cancelSub?.();
    this.cancelPoll = this.cancelSub = null;
  }

  /** Send a `PollRequest` unless one is in flight. */
  pollNow(): void {
    const number = this.host.peerNumber(this.scope.slot);
    if (!this.active || this.inFlight || number === null) return;
    this.inFlight = true;
    this.session = (this.session + 1) >>> 0;
    this.stats.pollsSent++;
    const heads = this.scope.heads(MAX_HEADS);
    this.host.send({
      type: 'PollRequest', scope: number, session: this.session, max_bytes: this.host.maxBytes,
      heads, sample: this.sample(heads, this.sendsSpread()), window: this.scope.ring.capacity,
    });
    this.arm(POLL_TIMEOUT_MS, () => {
      this.inFlight = false;
      this.scope.pending.clear(); // a poll timeout ends the round (§4.6)
      this.gapSeen = false;
      const backoff = Math.min(60_000, 250 * 2 ** Math.min(this.timeouts++, 20));
      this.arm(backoff, () => this.pollNow());
    });
  }

  /** A `PollResponse` for this scope. */
  onResponse(res: PollResponse): void {
    if (!this.active || !this.inFlight || res.session !== this.session) return; // stale
    this.inFlight = false;
    this.timeouts = 0;
    const s = this.scope;
    const lacks = (id: Uint8Array): boolean => !s.retains(id) && s.horizon.indexOf(id) < 0;
    if (res.gap && !this.gapSeen && res.items.some((it) => it[0] === ITEM_HORIZON_RECORD && lacksRecord(it, lacks))) {
      this.gapSeen = true;
      this.stats.gaps++;
      this.host.gap(s.slot);
    }
    let orphans = false;
    for (const item of res.items) {
      if (item[0] === ITEM_COMMAND) orphans = this.host.ingest(s.slot, item) || orphans;
      else if (item[0] === ITEM_HORIZON_RECORD) {
        try {
          const r = decodeHorizonRecord(item);
          if (lacks(r.id)) s.pending.add(r);
        } catch {
          this.stats.rejectedCommands++; // Malformed record: dropped, the others still count
        }
      } else this.stats.rejectedCommands++; // a reserved item kind (§3.5)
      if (s.state === 'free') return; // the scope was dropped while placing
    }
    this.peerHeads = res.heads.map((h) => Uint8Array.from(h));
    if (res.more) return this.pollNow();
    s.pending.clear();
    this.gapSeen = false;
    this.rounds++;
    if (this.rounds === 1 && (this.host.peerCaps & Capability.Push) !== 0) this.subscribe();
    const wait = this.pollMs > 0 ? this.pollMs : this.subscribed ? ANTI_ENTROPY_MS : Math.max(MIN_POLL_MS, res.next_poll_ms);
    this.arm(orphans ? MIN_POLL_MS : wait, () => this.pollNow());
  }

  /** A `SubscribeAck` for this scope. */
  onSubscribeAck(ack: SubscribeAck): void {
    if (!this.active) return;
    this.subscribed = ack.remain_open > 0;
    if (this.subscribed) this.armSub(ack.remain_open * 800);
  }

  /** A `Push` (enveloped or bare) for this scope. */
  onPush(push: Push): void {
    let orphans = false;
    for (const c of push.commands) {
      if (c[0] === ITEM_COMMAND) orphans = this.host.ingest(this.scope.slot, c) || orphans;
      else this.stats.rejectedCommands++; // a push carries commands only (§3.6)
    }
    if (orphans) this.pollNow(); // the push stream lost something: a poll repairs it (P§9.7)
    if (push.exhausted) this.subscribe();
  }

  /** Send (or renew) the subscription. */
  subscribe(): void {
    const number = this.host.peerNumber(this.scope.slot);
    if (!this.active || number === null) return;
    const heads = this.scope.heads(MAX_HEADS);
    this.host.send({
      type: 'Subscribe', scope: number, remain_open: SUBSCRIBE_REMAIN_OPEN_S, max_bytes: SUBSCRIBE_MAX_BYTES,
      sample: [...heads, ...this.sample(heads, true)].slice(0, MAX_SAMPLE), via: [],
    });
    this.armSub(5000); // until acknowledged, ask again now and then
  }

  /**
   * §3.4 field 5's steady-state rule: a poll's ring spread (the exponential part) is sent only
   * when the device retains none of the peer's heads from its last answer (counting those among
   * the device's own heads); once it holds one, that head bounds the peer's M on its own.
   */
  sendsSpread(): boolean {
    return !this.peerHeads.some((h) => this.scope.retains(h));
  }

  /**
   * The §3.4 sample order: peer's heads held, pending records, horizon entries, then a ring spread
   * when `spread` (a `Subscribe` always sends it: its sample is the subscriber's known set, §11.2).
   */
  private sample(heads: Uint8Array[], spread: boolean): Uint8Array[] {
    const s = this.scope;
    const out: Uint8Array[] = [];
    const add = (id: Uint8Array): void => {
      if (out.length < MAX_SAMPLE && !heads.some((h) => sameId(h, id)) && !out.some((x) => sameId(x, id))) out.push(Uint8Array.from(id));
    };
    for (const h of this.peerHeads) if (s.retains(h)) add(h);
    for (const r of s.pending.list) add(r.id);
    for (const i of s.horizon.deepestFirst().slice(0, MAX_HORIZON_SAMPLE)) add(s.horizon.idAt(i));
    for (let back = 0, n = spread ? s.ring.count : 0; n > 0; back = back === 0 ? 1 : back * 2) {
      add(s.ring.idAt(Math.max(0, n - 1 - back)));
      if (n - 1 - back <= 0) break;
    }
    return out;
  }

  private arm(ms: number, fn: () => void): void {
    this.cancelPoll?.();
    this.cancelPoll = this.scheduler.setTimer(() => {
      this.cancelPoll = null;
      fn();
    }, Math.max(1, Math.round(ms)));
  }

  private armSub(ms: number): void {
    this.cancelSub?.();
    this.cancelSub = this.scheduler.setTimer(() => {
      this.cancelSub = null;
      this.subscribe();
    }, Math.max(1, Math.round(ms)));
  }
}

/** Whether a record item names an id the device lacks (an undecodable record counts as not). */
function lacksRecord(item: Uint8Array, lacks: (id: Uint8Array) => boolean): boolean {
  try {
    return lacks(decodeHorizonRecord(item).id);
  } catch {
    return false;
  }
}

/**
 * The v2 device's subscriptions (protocol v2 §11, v2-scopes §11.3): the device has one uplink and
 * so one subscriber, so the table is keyed by scope alone — a fixed array of slots (default 4,
 * one per scope a device can hold), allocated at construction. A subscription is granted on
 * `Subscribe` (remain_open capped, max_bytes as its budget, known heads from the sample), pushed
 * to after an own commit or an accepted command in its scope, and ends at its close time (checked
 * on use: an expired slot pushes nothing and is reaped on the next `Subscribe`), at `Unsubscribe`,
 * when its budget runs out, when the scope closes toward the peer, and when the link goes down
 * (no suspension: a device cannot keep a slot for a peer that may come back on another link).
 */
import { encodeBarePushV2 } from '../../protocol/bare-push-v2.js';
import { ListFit } from '../../protocol/budget.js';
import { Capability } from '../../protocol/constants.js';
import { encodeMessageV2 } from '../../protocol/envelope-v2.js';
import { ReasonCode } from '../../protocol/errors.js';
import type { ErrorMessage, MessageV2, Push, Subscribe, SubscribeAck } from '../../protocol/messages-v2.js';
import type { DeviceScope } from './scope-v2.js';
import { sameId } from './scope-ring-v2.js';
import type { ResponderV2 } from './responder-v2.js';

/** Longest `remain_open` the device grants, seconds (§11.2 step 3). */
export const MAX_REMAIN_OPEN_S = 900;
/** Known heads kept per subscription (§11.1). */
export const MAX_KNOWN_HEADS = 10;
/** Least `retry_after_ms` of a `MaximumSubscriptionsExceeded` refusal (§11.2 step 2). */
export const MIN_SUBSCRIBE_RETRY_MS = 1000;
const MAX_U32 = 0xffffffff;

/** One slot. */
interface Slot {
  used: boolean;
  /** Device slot of the subscribed scope. */
  scope: number;
  closeAt: number;
  remaining: number;
  known: Uint8Array[];
  dirty: boolean;
}

/** What the table needs from the device. */
export interface SubscriptionHostV2 {
  now(): number;
  send(msg: MessageV2): void;
  /** Send an encoded message body as it is (a bare push). */
  sendEncoded(body: Uint8Array): void;
  /** The peer's number of the scope in `slot`, or null when it is not active. */
  peerNumber(slot: number): number | null;
  /** Largest message body the peer takes. */
  readonly sendLimit: number;
  readonly peerCaps: number;
}

/** The device's subscription table and its pusher. */
export class SubscriptionsV2 {
  private readonly slots: Slot[] = [];

  /** @param capacity slots (default 4: one per scope of the uplink). */
  constructor(
    private readonly host: SubscriptionHostV2,
    private readonly responder: ResponderV2,
    capacity = 4,
  ) {
    for (let i = 0; i < capacity; i++) this.slots.push({ used: false, scope: -1, closeAt: 0, remaining: 0, known: [], dirty: false });
  }

  /** Open subscriptions (not expired). */
  get count(): number {
    const now = this.host.now();
    return this.slots.filter((s) => s.used && s.closeAt > now).length;
  }

  /** Whether the scope in `slot` has an open subscription. */
  has(slot: number): boolean {
    const s = this.find(slot);
    return s !== undefined && s.closeAt > this.host.now();
  }

  /** §11.2 for `msg`, which routes to `scope` (device slot `slot`, peer number `n`) and passed the grant check. */
  subscribe(slot: number, scope: DeviceScope, n: number, msg: Subscribe): void {
    const now = this.host.now();
    for (const s of this.slots) if (s.used && s.closeAt <= now) this.free(s);
    let s = this.find(slot);
    if (s === undefined) {
      s = this.slots.find((x) => !x.used);
      if (s === undefined) {
        const earliest = Math.min(...this.slots.map((x) => x.closeAt));
        return this.error('MaximumSubscriptionsExceeded', 'subscription table full; poll', n, Math.max(MIN_SUBSCRIBE_RETRY_MS, earliest - now));
      }
      s.used = true;
      s.scope = slot;
      s.known = [];
    }
    const granted = Math.min(msg.remain_open, MAX_REMAIN_OPEN_S);
    s.closeAt = now + granted * 1000;
    s.remaining = msg.max_bytes;
    const held = msg.sample.filter((id) => scope.retains(id) || scope.horizon.indexOf(id) >= 0);
    for (const id of held) if (!s.known.some((k) => sameId(k, id))) s.known.push(Uint8Array.from(id));
    s.known = s.known.sort((a, b) => depthOf(scope, b) - depthOf(scope, a)).slice(0, MAX_KNOWN_HEADS);
    if (s.known.length === 0) s.known = scope.heads(MAX_KNOWN_HEADS);
    const ack: SubscribeAck = { type: 'SubscribeAck', scope: n, remain_open: granted, max_bytes: msg.max_bytes };
    this.host.send(ack);
    s.dirty = true;
    this.push(slot, scope);
  }

  /** `Unsubscribe`, the scope closed toward the peer, or the scope dropped: the subscription ends. */
  end(slot: number): void {
    const s = this.find(slot);
    if (s !== undefined) this.free(s);
  }

  /** The link went down (or a new session began): every subscription ends. */
  clear(): void {
    for (const s of this.slots) this.free(s);
  }

  /**
   * §11.4 for the scope in `slot` after a new command there: push what the subscriber lacks
   * within its budget. Commands from the peer count as known (the device's one peer is the
   * subscriber), so only own commands go out.
   */
  push(slot: number, scope: DeviceScope): void {
    const s = this.find(slot);
    if (s === undefined) return;
    const n = this.host.peerNumber(slot);
    if (n === null) return this.free(s);
    if (s.closeAt <= this.host.now()) return this.free(s);
    const ids = [...s.known, ...this.peerIds(scope)];
    let left = this.responder.missing(scope, ids);
    const frame = this.host.sendLimit;
    const bare = (this.host.peerCaps & Capability.BareCommand) !== 0;
    while (left.length > 0) {
      const first = left[0]!;
      if (left.length === 1 && bare) {
        const body = encodeBarePushV2(first, n);
        if (body.length <= s.remaining && body.length <= frame) {
          this.host.sendEncoded(body);
          s.remaining -= body.length;
          left = [];
          break;
        }
      }
      const probe: Push = { type: 'Push', scope: n, remaining: MAX_U32, exhausted: false, commands: [] };
      const e = encodeMessageV2(probe).length - 1;
      const byBudget = new ListFit(e, Math.min(s.remaining, frame));
      let k = 0;
      while (k < left.length && byBudget.take(left[k]!.length)) k++;
      const byFrame = new ListFit(e, frame);
      for (let j = 0; j < k; j++) byFrame.take(left[j]!.length);
      const trimmed = k < left.length && byFrame.fits(left[k]!.length);
      if (k === 0) {
        if (trimmed) return this.exhaust(s, n);
        left = left.slice(1); // larger than a frame: only a poll can carry it (never expected)
        continue;
      }
      const msg: Push = { type: 'Push', scope: n, remaining: 0, exhausted: trimmed, commands: left.slice(0, k) };
      const l0 = encodeMessageV2(msg).length;
      msg.remaining = Math.max(0, s.remaining - l0 - 4);
      const len = encodeMessageV2(msg).length;
      this.host.send(msg);
      s.remaining -= len;
      if (trimmed) return this.exhaust(s, n);
      left = left.slice(k);
    }
    s.known = scope.heads(MAX_KNOWN_HEADS);
    s.dirty = false;
  }

  /** §11.4 step 4: `Error{BudgetExhausted}` (after the trimmed push, if any) and the subscription ends. */
  private exhaust(s: Slot, n: number): void {
    this.error('BudgetExhausted', 'subscription budget exhausted', n, null);
    this.free(s);
  }

  /** Ids of the retained commands that came from the peer (everything not own). */
  private peerIds(scope: DeviceScope): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let i = 0; i < scope.ring.count; i++) if (!scope.ring.isOwn(i)) out.push(scope.ring.idAt(i));
    for (let i = 0; i < scope.members.count; i++) out.push(scope.members.idAt(i));
    return out;
  }

  private find(slot: number): Slot | undefined {
    return this.slots.find((s) => s.used && s.scope === slot);
  }

  private free(s: Slot): void {
    s.used = false;
    s.scope = -1;
    s.known = [];
    s.dirty = false;
  }

  private error(reason: 'MaximumSubscriptionsExceeded' | 'BudgetExhausted', text: string, n: number, retry: number | null): void {
    const err: ErrorMessage = { type: 'Error', code: ReasonCode[reason], message: text, retry_after_ms: retry, scope: n };
    this.host.send(err);
  }
}


/** Depth of a retained or horizon id of `scope` (an id it holds neither way: -1). */
function depthOf(scope: DeviceScope, id: Uint8Array): number {
  const r = scope.ring.indexOf(id);
  if (r >= 0) return scope.ring.depthAt(r);
  const m = scope.members.indexOf(id);
  if (m >= 0) return scope.members.depthAt(m);
  const h = scope.horizon.indexOf(id);
  return h >= 0 ? scope.horizon.depthAt(h) : -1;
}

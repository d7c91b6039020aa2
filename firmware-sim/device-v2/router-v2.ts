/**
 * What the v2 device does with each message once its session is up (design §3.10, §7 items 5
 * and 8): `Scopes`/`ScopesAck` go to the table; a `PollRequest` is routed by the device's own
 * number, checked (number known and active, the scope still granted to the peer, `max_bytes`)
 * and answered from the ring; a `Subscribe` goes, after the same checks, to the subscription
 * table (subscriptions-v2.ts), or is refused to polling when the device takes none; an
 * `Unsubscribe` ends the scope's subscription; a `PollResponse`, `Push` (enveloped or bare) or `SubscribeAck` goes to its scope's
 * poller, or is dropped and counted when its number is not active — never answered.
 *
 * A request naming a number that is not active gets `Error{UnknownScope}` for at most one in 16
 * such messages of a link (§3.10): the count starts over with every session, so a peer learns of
 * its stale number early on each link, and a flood costs the device one answer per 16.
 */
import { MIN_POLL_BYTES } from '../../protocol/constants.js';
import { ReasonCode, type ReasonName } from '../../protocol/errors.js';
import type { ErrorMessage, MessageV2, PollRequest } from '../../protocol/messages-v2.js';
import type { DeviceHostV2 } from './device-host-v2.js';
import { ResponderV2 } from './responder-v2.js';

/** `UnknownScope` answers: one per this many such requests of a link (§3.10). */
export const UNKNOWN_SCOPE_ANSWER_EVERY = 16;

/** The device's handling of messages on an up session. */
export class MessageRouterV2 {
  /** The ring walker of answers and pushes. */
  readonly responder: ResponderV2;
  /** Requests of this link that named a number not active (§3.10). */
  private unknownScopes = 0;

  /** @param maxRing the largest ring of the device's scopes (the responder's mark buffers). */
  constructor(
    private readonly host: DeviceHostV2,
    maxRing: number,
  ) {
    this.responder = new ResponderV2(maxRing);
  }

  /** A new session on the link: the `UnknownScope` allowance starts over. */
  reset(): void {
    this.unknownScopes = 0;
  }

  /** Act on one message. */
  onMessage(msg: MessageV2): void {
    const h = this.host;
    switch (msg.type) {
      case 'Error':
        h.stats.errorsIn++;
        h.events.emit('peer-error', msg);
        return;
      case 'Scopes':
        return h.table.onScopes(msg);
      case 'ScopesAck':
        return h.table.onScopesAck(msg);
      case 'PollRequest':
        return this.answer(msg);
      case 'Subscribe': {
        const slot = h.table.slotOf(msg.scope);
        const n = slot === null ? null : h.table.peerNumber(slot, true);
        if (slot === null || n === null) return this.unknownScope(msg.scope);
        const subs = h.subscriptions;
        // Subscriptions off: send the peer to polling (§7 item 8).
        if (subs === null) return this.refuse('MaximumSubscriptionsExceeded', 'device takes no subscriptions; poll it', n, h.telemetryMs);
        const s = h.scopes[slot]!;
        if (h.peerKey === null || !s.grants(h.peerKey)) {
          this.refuse('NotAMember', 'not a member of this scope', n);
          return h.closeToward(slot);
        }
        return subs.subscribe(slot, s, n, msg);
      }
      case 'Unsubscribe': {
        const slot = h.table.slotOf(msg.scope);
        if (slot !== null) h.subscriptions?.end(slot); // never answered (§11.3)
        return;
      }
      case 'PollResponse':
      case 'Push':
      case 'SubscribeAck': {
        const slot = h.table.slotOf(msg.scope);
        if (slot === null || !h.table.isActive(slot)) {
          h.stats.unknownScope++; // dropped, never answered (§3.10)
          return;
        }
        const p = h.pollers[slot]!;
        if (msg.type === 'PollResponse') p.onResponse(msg);
        else if (msg.type === 'Push') p.onPush(msg);
        else p.onSubscribeAck(msg);
        return;
      }
      default:
        return; // Hello/Auth never reach here
    }
  }

  private answer(req: PollRequest): void {
    const h = this.host;
    const slot = h.table.slotOf(req.scope);
    const n = slot === null ? null : h.table.peerNumber(slot, true);
    if (slot === null || n === null) return this.unknownScope(req.scope);
    const s = h.scopes[slot]!;
    if (h.peerKey === null || !s.grants(h.peerKey)) {
      this.refuse('NotAMember', 'not a member of this scope', n);
      return h.closeToward(slot);
    }
    if (req.max_bytes < MIN_POLL_BYTES) return this.refuse('Malformed', `max_bytes ${req.max_bytes} is below the minimum ${MIN_POLL_BYTES}`, n);
    const limit = Math.min(req.max_bytes, h.sendLimit, h.receiveLimit);
    h.stats.pollsAnswered++;
    h.send(this.responder.answer(s, req, n, limit, h.telemetryMs));
  }

  /** §3.10: at most one `Error{UnknownScope}` per 16 such messages, naming the number as received. */
  private unknownScope(number: number): void {
    this.host.stats.unknownScope++;
    if (this.unknownScopes++ % UNKNOWN_SCOPE_ANSWER_EVERY === 0) this.refuse('UnknownScope', `scope ${number} is not open on this link`, number);
  }

  private refuse(reason: ReasonName, text: string, scope: number, retry: number | null = null): void {
    const err: ErrorMessage = { type: 'Error', code: ReasonCode[reason], message: text, retry_after_ms: retry, scope };
    this.host.send(err);
  }
}

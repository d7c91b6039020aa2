/**
 * One received command offered to one of the v2 device's scopes (from an answer or a push): the
 * scope decides (§2.3, scope-v2.ts); this part counts the outcome, emits it, and acts on what it
 * means for the link — a stored membership command that ends the peer's grant closes the scope
 * toward it (§3.10 last row), a scope whose tables overflowed or whose joined genesis was wrong is
 * dropped, and a data command in the device scope addressed to this device (a CBOR array whose
 * first element is the device's peer id, from another author) is an order.
 */
import { decodeCbor } from '../../protocol/cbor.js';
import { CommandKind } from '../../protocol/constants-v2.js';
import type { DeviceHostV2 } from './device-host-v2.js';
import { sameId } from './scope-ring-v2.js';

/** Offer `bytes` to the scope in `slot`; true when it was an orphan (the poller polls again soon). */
export function ingestCommand(h: DeviceHostV2, slot: number, bytes: Uint8Array): boolean {
  const s = h.scopes[slot]!;
  const r = s.accept(bytes);
  h.stats.adopted += s.adopted;
  h.stats.horizonDropped += s.horizonDrops;
  s.adopted = s.horizonDrops = 0;
  switch (r.kind) {
    case 'stored': {
      h.stats.commandsReceived++;
      h.events.emit('command', s.name, r.cmd);
      if (r.cmd.kind === CommandKind.Membership && h.peerKey !== null && !s.grants(h.peerKey)) h.closeToward(slot);
      if (slot === 0 && r.cmd.kind === CommandKind.Data && !sameId(r.cmd.author, h.identity.author) && isOrderFor(h.peerId, r.cmd.payload)) {
        h.stats.orders++;
        h.events.emit('order', r.cmd.payload, r.cmd);
      }
      h.subscriptions?.push(slot, s); // the subscriber's known heads advance past it (§11.4)
      return false;
    }
    case 'duplicate':
      h.stats.duplicates++;
      return false;
    case 'orphan':
      h.stats.orphans++;
      return true;
    case 'full':
      h.stats.ringRefused++;
      return false;
    case 'rejected':
      h.stats.rejectedCommands++;
      h.events.emit('rejected', s.name, r.reason, r.detail);
      return false;
    case 'overflow':
      h.stats.scopeOverflow++;
      h.drop(slot);
      return false;
    case 'join-rejected':
      h.stats.scopeJoinsRejected++;
      h.drop(slot);
      return false;
  }
}

/** Whether a device scope payload is addressed to `peerId`. */
function isOrderFor(peerId: string, payload: Uint8Array): boolean {
  try {
    const v = decodeCbor(payload);
    return Array.isArray(v) && v[0] === peerId;
  } catch {
    return false;
  }
}

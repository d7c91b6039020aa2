/**
 * MQTT topic layout. One protocol message is the whole payload of one PUBLISH (no framing: MQTT
 * carries the length). All topics live under a configurable prefix (default `syncwire`).
 *
 * - `<prefix>/<to>/in/<from>`: messages from peer `from` to peer `to` (QoS 1). A peer subscribes
 *   to `<prefix>/<self>/in/+`; the topic tells it who sent the message.
 * - `<prefix>/<peer>/presence`: retained `online` / `offline` (the last will) as UTF-8 text.
 *
 * Peer ids are 16 lowercase hex characters, so they never contain `/`, `+` or `#`.
 */

/** Default topic prefix. */
export const DEFAULT_TOPIC_PREFIX = 'syncwire';

/** Topic a message from `from` to `to` is published on. */
export function inboxTopic(prefix: string, to: string, from: string): string {
  return `${prefix}/${to}/in/${from}`;
}

/** Subscription filter for every message addressed to `self`. */
export function inboxFilter(prefix: string, self: string): string {
  return `${prefix}/${self}/in/+`;
}

/** Retained presence topic of `peer`. */
export function presenceTopic(prefix: string, peer: string): string {
  return `${prefix}/${peer}/presence`;
}

/** Subscription filter for every peer's presence. */
export function presenceFilter(prefix: string): string {
  return `${prefix}/+/presence`;
}

/** Parse a topic published to `self`'s inbox; returns the sender id or `undefined`. */
export function senderOf(prefix: string, self: string, topic: string): string | undefined {
  const head = `${prefix}/${self}/in/`;
  if (!topic.startsWith(head)) return undefined;
  const from = topic.slice(head.length);
  return /^[0-9a-f]{16}$/.test(from) ? from : undefined;
}

/** Parse a presence topic; returns the peer id or `undefined`. */
export function presencePeerOf(prefix: string, topic: string): string | undefined {
  const m = topic.startsWith(`${prefix}/`) ? /^([0-9a-f]{16})\/presence$/.exec(topic.slice(prefix.length + 1)) : null;
  return m?.[1];
}

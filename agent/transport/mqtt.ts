/**
 * MQTT transport (mqtt.js 5, QoS 1, MQTT 3.1.1 by default so aedes and Mosquitto both work).
 *
 * - `mqtt://[user:pass@]host:port/<remotePeerId>?prefix=syncwire&self=<ownPeerId>` dials one
 *   peer: its link is created when the broker session is ready, and again after a backoff when
 *   it closed while the broker stays up. Messages from any other sender are dropped.
 * - `mqtt-listen://host:port?prefix=…&self=…` creates a link for each sender the first time a
 *   message arrives from it (at most `maxLinks`, default 1024; further senders are dropped with
 *   a warning).
 * - `mqtts:` / `mqtts-listen:` add TLS (client certificates from `opts.tls` or `ca=&cert=&key=`).
 * - A comma-separated node list (`mqtt://h1:1883,h2:1883,h3:1883/<peer>`) names the nodes of one
 *   clustered broker: the client starts at a random node (a fleet spreads over the cluster) and
 *   moves to the next one on every failed attempt or lost connection. The rotation is ours, not
 *   mqtt.js's `servers` option: that one always starts at the first node and, for `mqtts`, keeps
 *   the first node's TLS server name for every later node.
 *
 * The session is persistent (`clean: false`, client id `syncwire-<self>`), so messages sent to
 * this peer while it was briefly away are queued by the broker. Presence `online` is retained on
 * `<prefix>/<self>/presence`, with a retained `offline` last will. An empty payload on an inbox
 * topic is the close marker: "the sender closed its link to you", except on a sealed link, where
 * only the session's sealed close marker counts (an empty payload is easy to forge). Losing the
 * broker closes every link; reconnecting (full-jitter backoff capped at `mqttReconnectMaxMs`)
 * creates new ones. Presence is a hint, never a gate (`mqtt-presence.ts`); the
 * unauthenticated-link pool and the rest of the state machine are described in
 * `mqtt-transport.ts`.
 *
 * Load sharing: several gateways may share a clustered broker and split the traffic with a
 * shared subscription (`$share/<group>/<prefix>/<gateway-id>/in/+`, MQTT 5 or Mosquitto's
 * 3.1.1 extension), each message then reaching one gateway of the group. The sync protocol
 * tolerates any message landing on any gateway only if the gateways share state (one store or a
 * replicated one, and the subscription table): a push subscription or a poll answered by a
 * gateway that lacks the commands would stall until the peer polls again. This module
 * subscribes to the plain inbox; a shared-subscription mode is a deployment extension.
 */
import type { IClientOptions } from 'mqtt';
import { DEFAULT_TOPIC_PREFIX, presenceTopic } from '../../protocol/mqtt-topics.js';
import { TransportError } from './errors.js';
import type { OpenedTransport, ResolvedOptions } from './options.js';
import { OFFLINE } from './mqtt-presence.js';
import { MqttTransport } from './mqtt-transport.js';
import { loadTls } from './tls-material.js';
import { SEAL_PARAM, assertNoQuery, hostPorts, sealParam, type HostPort } from './url.js';

const PEER_ID = /^[0-9a-f]{16}$/;

/** Build an MQTT transport from a parsed `mqtt:`/`mqtts:`/`*-listen:` URL. */
export async function openMqtt(url: URL, display: string, o: ResolvedOptions, hostList: string[], secure: boolean, listen: boolean): Promise<OpenedTransport> {
  assertNoQuery(url, ['prefix', 'self', 'ca', 'cert', 'key', SEAL_PARAM], display);
  // `require` for mqtts too: TLS to the broker does not hide a link from the broker or its other clients.
  const seal = sealParam(url, 'require', display);
  const nodes = hostPorts(url.protocol, hostList, secure ? 8883 : 1883, display);
  // Start at a random node so that a fleet spreads over the cluster.
  const first = Math.min(nodes.length - 1, Math.floor((o.random ?? Math.random)() * nodes.length));
  const { host, port } = nodes[first]!;
  const self = url.searchParams.get('self') ?? o.selfId;
  if (self === undefined || !PEER_ID.test(self)) throw new TransportError('BadOptions', `${display}: self id must be 16 lowercase hex chars (self= or opts.selfId)`);
  const prefix = url.searchParams.get('prefix') ?? DEFAULT_TOPIC_PREFIX;
  if (prefix === '' || /[+#\0]/.test(prefix) || prefix.endsWith('/')) throw new TransportError('BadUrl', `${display}: bad topic prefix`);
  const remote = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (listen ? remote !== '' : !PEER_ID.test(remote)) {
    throw new TransportError('BadUrl', `${display}: ${listen ? 'a listener takes no peer id' : 'path must be the remote peer id (16 lowercase hex chars)'}`);
  }
  const v5 = o.mqttProtocolVersion === 5;
  const options: IClientOptions = {
    protocol: secure ? 'mqtts' : 'mqtt', host, port,
    clientId: `syncwire-${self}`, clean: false, protocolVersion: v5 ? 5 : 4,
    keepalive: o.mqttKeepaliveS ?? 30, connectTimeout: o.connectTimeoutMs,
    // Reconnects are ours (jittered exponential backoff); mqtt.js only has a fixed period.
    reconnectPeriod: 0, resubscribe: false,
    will: { topic: presenceTopic(prefix, self), payload: OFFLINE, qos: 1, retain: true },
    // MQTT 5 ends a session at disconnect unless told otherwise; keep it a day.
    ...(v5 ? { properties: { sessionExpiryInterval: 86_400 } } : {}),
    ...(url.username !== '' ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password !== '' ? { password: decodeURIComponent(url.password) } : {}),
  };
  if (secure) Object.assign(options, await loadTls(url, o.tls, display));
  const fixedServername = options.servername !== undefined;
  let at = first;
  /** Point the client at the next node; mqtt.js reads these options on every reconnect. */
  const rotate = (): string => {
    if (nodes.length === 1) return nodeName(nodes[0]!);
    at = (at + 1) % nodes.length;
    const n = nodes[at]!;
    Object.assign(options, { host: n.host, hostname: n.host, port: n.port });
    // mqtt.js sets the TLS server name from the host only when unset: clear its last choice.
    if (secure && !fixedServername) delete options.servername;
    return nodeName(n);
  };
  // Loaded here, not at the top: a serial- or TCP-only agent never pays for mqtt.js.
  const mqtt = await import('mqtt');
  const base = `${secure ? 'mqtts' : 'mqtt'}://${nodes.map(nodeName).join(',')}`;
  return new MqttTransport(display, base, { self, prefix, remote: listen ? undefined : remote, seal }, o, mqtt.connect(options), { count: nodes.length, first: nodeName(nodes[first]!), rotate });
}

function nodeName(n: HostPort): string {
  return `${n.host.includes(':') ? `[${n.host}]` : n.host}:${n.port}`;
}

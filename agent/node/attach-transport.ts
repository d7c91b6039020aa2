/**
 * Opening a transport URL and handing every link it yields to an engine: the one way the agent
 * (`cli/run-node.ts`), the demo, the benches and the chaos soak wire a transport to an engine.
 *
 * @example
 * const t = await attachTransport('tcp-listen://0.0.0.0:7000', engine, { logger });
 * // … t.links holds the links open right now; t.url is the URL with its password redacted.
 * await t.close();
 */
import type { Link } from '../link.js';
import type { OpenedTransport, TransportOptions } from '../transport/registry.js';

/** What a transport's links are handed to: an engine (only these two members are used). */
export interface LinkSink {
  /** This peer's id: the default `selfId` of the transport (MQTT needs one). */
  readonly peerId: string;
  /** Take a new link (the engine runs the handshake on it). */
  attach(link: Link): void;
}

/** Hooks on a transport's events, beside the engine getting each link. */
export interface AttachHooks {
  /**
   * Each `warn` event of the transport (connect refused, broker down). Default: none — a
   * transport given a `logger` already logs its warnings there.
   */
  onWarn?: (err: Error) => void;
  /** Each new link, just before the engine takes it (to log its lifecycle, count it…). */
  onLink?: (link: Link) => void;
}

/** Options of {@link attachTransport}: the transport's own, plus the hooks. */
export interface AttachOptions extends TransportOptions, AttachHooks {}

/** A transport whose links go to an engine. */
export interface AttachedTransport {
  /** The URL it was opened with, password redacted (the transport's `url`). */
  readonly url: string;
  readonly transport: OpenedTransport;
  /** The port a listener bound (useful with port 0); undefined for dialers and MQTT. */
  readonly localPort: number | undefined;
  /** Links of this transport that are open right now. */
  readonly links: ReadonlySet<Link>;
  /** Close the transport and with it every link (idempotent). */
  close(): Promise<void>;
}

/**
 * Hand every link `transport` yields from now on to `sink`, tracking the open ones. Listen
 * right after `openTransport` resolves: a dialer may connect on the next turn.
 */
export function attachLinks(transport: OpenedTransport, sink: LinkSink, hooks: AttachHooks = {}): AttachedTransport {
  const links = new Set<Link>();
  if (hooks.onWarn) transport.on('warn', hooks.onWarn);
  transport.on('link', (link) => {
    links.add(link);
    link.once('close', () => links.delete(link));
    hooks.onLink?.(link);
    sink.attach(link);
  });
  return { url: transport.url, transport, localPort: transport.localPort, links, close: () => transport.close() };
}

/**
 * Open the transport `url` names (`openTransport`: the scheme's module is loaded only now) with
 * `selfId` defaulting to the sink's peer id, and attach every link it yields to `sink`.
 * @throws TransportError `BadUrl`, `UnknownScheme`, `BadOptions`, `ListenFailed` (see `openTransport`).
 */
export async function attachTransport(url: string, sink: LinkSink, opts: AttachOptions = {}): Promise<AttachedTransport> {
  const { onWarn, onLink, ...transportOpts } = opts;
  const { openTransport } = await import('../transport/registry.js');
  const transport = await openTransport(url, { selfId: sink.peerId, ...transportOpts });
  return attachLinks(transport, sink, { onWarn, onLink });
}

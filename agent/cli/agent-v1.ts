/**
 * The library's protocol-1 agent (`startAgent({ protocol: 1, ... })`, being retired): the v1
 * engine's node (run-node.ts) behind the {@link Agent} interface — commit, the v1 feed in log
 * order, status, reload, close, events. Loaded by start-agent.ts only when protocol 1 is asked
 * for, so nothing else of the library imports the v1 engine; it goes with v1.
 */
import { EventEmitter } from 'node:events';
import { toHex } from '../../protocol/keys.js';
import { commandEntry, commandsFrom, cursorOf, type FeedOptions } from '../api/command-feed.js';
import { showCommandJson } from '../api/commands-stream.js';
import type { CommandEntry } from '../api/entry-json.js';
import type { PeerRejected } from '../sync/engine-events.js';
import type { ResolvedConfig } from './config.js';
import type { JsonLogger } from './logger.js';
import type { LastError } from './process-info.js';
import { startNode, type RunningNode } from './run-node.js';
import type { Snapshot } from './snapshot.js';
import type { TrustReload } from './trust-reload.js';

/** What a commit answers. */
export interface Committed {
  /** Command id, 64 lowercase hex. */
  id: string;
  /** Resume a {@link Agent.commands} iteration after this command. */
  cursor: string;
}

/** Events of an {@link Agent}. */
export interface AgentEvents {
  /** A command was added to the graph (a local commit or from a peer). Entries are built only while someone listens. */
  command: [entry: CommandEntry, from: string];
  /** A peer authenticated. */
  'peer-up': [peerId: string];
  /** A peer's link closed. */
  'peer-down': [peerId: string];
  /** A handshake was refused for trust: the full public key and the link it came over. */
  'peer-rejected': [info: PeerRejected];
}

/** A running agent. */
export interface Agent extends EventEmitter<AgentEvents> {
  /** This agent's peer id (16 hex). */
  readonly peerId: string;
  /** This agent's public key (64 hex): what peers put in their trust list. */
  readonly publicKey: string;
  /**
   * Commit one command: bytes as they are, a string as UTF-8, anything else as its JSON text.
   * Resolves once the store's durability setting is met.
   * @throws StoreWriteError (reason `disk-full` on a full disk: nothing was stored), TooLargeError
   *   for a payload over the command size limit, Error after close.
   */
  commit(payload: Uint8Array | string | object | number | boolean | null): Promise<Committed>;
  /**
   * Every command in causal order (parents first), from the start or after `opts.after` (a cursor
   * from an earlier entry, or `'end'`), as entries with a cursor each. With `follow`, waits for new
   * commands until `opts.signal` aborts. A consumer that stores each cursor after acting on the
   * entry and resumes from it after a restart sees every command exactly once, in order.
   * @throws CursorError (reason `cursor_syntax` or `cursor_unknown`) at the call for a bad cursor.
   */
  commands(opts?: FeedOptions): AsyncIterable<CommandEntry>;
  /** One command by id (64 hex), or null when this agent does not hold it. */
  command(idHex: string): CommandEntry | null;
  /** The status snapshot (what `GET /v1/status` answers). */
  status(): Snapshot;
  /**
   * Re-read `trust.keysFile` and apply it: removed peers are disconnected, others stay linked.
   * @throws TrustFileError on a bad file (the trust in force is unchanged).
   */
  reload(): TrustReload;
  /** Whether the event loop runs freely (the systemd watchdog follows this). */
  healthy(): boolean;
  /** Stop: API, links, engine, store (flushed and synced), lock. Idempotent. */
  close(): Promise<void>;
}

/** Start the v1 node and wrap it (start-agent.ts `startResolvedAgent` with `protocol: 1`). */
export async function startAgentV1(cfg: ResolvedConfig, role: 'agent' | 'gateway', log: JsonLogger, lastError: () => LastError | null): Promise<Agent> {
  return new RunningAgent(await startNode(cfg, role, log, { lastError }));
}

class RunningAgent extends EventEmitter<AgentEvents> implements Agent {
  readonly peerId: string;
  readonly publicKey: string;

  constructor(private readonly node: RunningNode) {
    super();
    const e = node.engine;
    this.peerId = e.peerId;
    this.publicKey = toHex(e.identity.publicKey);
    e.on('commands', (handles, from) => {
      if (this.listenerCount('command') === 0) return;
      for (const h of handles) this.emit('command', commandEntry(e.store, h), from);
    });
    e.on('peer-up', (p) => this.emit('peer-up', p));
    e.on('peer-down', (p) => this.emit('peer-down', p));
    e.on('peer-rejected', (info) => this.emit('peer-rejected', info));
  }

  async commit(payload: Uint8Array | string | object | number | boolean | null): Promise<Committed> {
    const bytes =
      payload instanceof Uint8Array ? payload : new TextEncoder().encode(typeof payload === 'string' ? payload : JSON.stringify(payload));
    const id = await this.node.engine.commit(bytes);
    return { id: toHex(id), cursor: cursorOf(this.node.engine.store, id) };
  }

  commands(opts: FeedOptions = {}): AsyncIterable<CommandEntry> {
    return commandsFrom(this.node.feed, opts);
  }

  command(idHex: string): CommandEntry | null {
    return showCommandJson(this.node.engine.store, idHex);
  }

  status(): Snapshot {
    return this.node.snapshot();
  }

  reload(): TrustReload {
    return this.node.reload();
  }

  healthy(): boolean {
    return this.node.healthy();
  }

  close(): Promise<void> {
    return this.node.close();
  }
}

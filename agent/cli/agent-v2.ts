/**
 * The library's protocol-2 agent (`startAgent({ protocol: 2, ... })`; design v2-scopes.md §4.7,
 * §6): commits and reads name a scope (default `scopes.default`, else the only scope held), reads
 * yield command entries and gap entries (`'gap' in item`), and `scopes()` lists what is held.
 */
import { EventEmitter } from 'node:events';
import { toHex } from '../../protocol/keys.js';
import { scopeItems, type ScopeFeedOptions, type ScopeItem, type ScopedEntry } from '../api/scope-feed.js';
import type { PeerRejected } from '../sync/engine-events.js';
import type { RunningNodeV2 } from './run-node-v2.js';
import { scopeInfos, type ScopeInfo, type SnapshotV2 } from './snapshot-v2.js';
import type { TrustReload } from './trust-reload.js';

/** What a v2 commit answers. */
export interface CommittedV2 {
  /** Command id, 64 lowercase hex. */
  id: string;
  /** Resume a {@link AgentV2.commands} iteration of this scope after this command. */
  cursor: string;
  /** The scope's name. */
  scope: string;
}

/** Options of {@link AgentV2.commands}: the scope (name or 64-hex id; default as commits), and the feed options. */
export interface ScopeCommandsOptions extends ScopeFeedOptions {
  scope?: string;
}

/** Events of an {@link AgentV2}. */
export interface AgentV2Events {
  /** A command was appended to a scope (a local commit or from a peer). Built only while someone listens. */
  command: [entry: ScopedEntry, from: string];
  'peer-up': [peerId: string];
  'peer-down': [peerId: string];
  'peer-rejected': [info: PeerRejected];
}

/** A running protocol-2 agent. */
export interface AgentV2 extends EventEmitter<AgentV2Events> {
  readonly protocol: 2;
  readonly peerId: string;
  readonly publicKey: string;
  /**
   * Commit one data command to `opts.scope`: bytes as they are, a string as UTF-8, anything else
   * as its JSON text. @throws ScopeError (`scope_required`, `unknown_scope`, `read_only` for
   *   `legacy/v1`), StoreWriteError, RetentionFullError, Error after close.
   */
  commit(payload: Uint8Array | string | object | number | boolean | null, opts?: { scope?: string }): Promise<CommittedV2>;
  /**
   * The scope's commands in causal order with its gap lines, from the genesis or after `opts.after`
   * (a cursor of this scope, or `'end'`); `limit` counts commands only. Gaps are seen at least
   * once, commands exactly once when resuming from the last cursor acted on.
   * @throws ScopeError, CursorError at the call.
   */
  commands(opts?: ScopeCommandsOptions): AsyncIterable<ScopeItem>;
  /** One command by id (64 hex) from whichever scope holds it, or null. */
  command(idHex: string): ScopedEntry | null;
  /** Every scope held (what `GET /v1/scopes` lists). */
  scopes(): ScopeInfo[];
  status(): SnapshotV2;
  reload(): TrustReload;
  healthy(): boolean;
  close(): Promise<void>;
}

/** The {@link AgentV2} over a started node. */
export class RunningAgentV2 extends EventEmitter<AgentV2Events> implements AgentV2 {
  readonly protocol = 2;
  readonly peerId: string;
  readonly publicKey: string;

  constructor(private readonly node: RunningNodeV2) {
    super();
    const e = node.engine;
    this.peerId = e.peerId;
    this.publicKey = toHex(e.identity.publicKey);
    e.on('appended', (a) => {
      if (this.listenerCount('command') === 0) return;
      const host = e.scope(a.scope);
      const h = host?.store.indexOf(a.id) ?? -1;
      if (host && h >= 0) this.emit('command', node.scopes.feed({ name: host.name, host }).entry(h), a.from);
    });
    e.on('peer-up', (p) => this.emit('peer-up', p));
    e.on('peer-down', (p) => this.emit('peer-down', p));
    e.on('peer-rejected', (info) => this.emit('peer-rejected', info));
  }

  async commit(payload: Uint8Array | string | object | number | boolean | null, opts: { scope?: string } = {}): Promise<CommittedV2> {
    const bytes = payload instanceof Uint8Array ? payload : new TextEncoder().encode(typeof payload === 'string' ? payload : JSON.stringify(payload));
    const c = await this.node.scopes.commit(bytes, opts.scope);
    return { id: toHex(c.id), cursor: c.cursor, scope: c.scope };
  }

  commands(opts: ScopeCommandsOptions = {}): AsyncIterable<ScopeItem> {
    const { scope, ...feed } = opts;
    return scopeItems(this.node.scopes.feed(this.node.scopes.resolve(scope)), feed);
  }

  command(idHex: string): ScopedEntry | null {
    return /^[0-9a-fA-F]{64}$/.test(idHex) ? this.node.scopes.show(idHex.toLowerCase()) : null;
  }

  scopes(): ScopeInfo[] {
    return scopeInfos(this.node.engine, this.node.scopes.legacy);
  }

  status(): SnapshotV2 {
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

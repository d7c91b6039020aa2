/**
 * The `syncwire` package: run an agent inside an application.
 *
 * ```ts
 * import { startAgent } from 'syncwire';
 * const agent = await startAgent({ dataDir: '/var/lib/app', links: ['tcp://gateway:7001'], trust: { keys: [gatewayKey] } });
 * const scope = `device/${agent.peerId}`; // created by the gateway once the link is up
 * for await (const it of agent.commands({ scope, after: savedCursor, follow: true })) {
 *   if ('gap' in it) continue; // commands before it.gap.before are not here (pruned): no cursor to save
 *   act(it.json);
 *   save(it.cursor);
 * }
 * ```
 *
 * README "Library" documents every export; the CLI (`syncwire agent`) is built on the same
 * {@link startAgent}.
 */
export { startAgent, ensureKeyFile, type AgentConfig, type AgentOptions } from './cli/start-agent.js';
export type { CommandEntry } from './api/entry-json.js';
// Scoped commits and reads, gap entries (design v2-scopes.md §4.7, §6).
export type { AgentV2, AgentV2Events, CommittedV2, ScopeCommandsOptions } from './cli/agent-v2.js';
export type { ScopedEntry, GapEntry, ScopeItem, EntryKind, ScopeFeedOptions } from './api/scope-feed.js';
export { ScopeError, type ScopeErrorReason } from './cli/node-scopes.js';
export type { SnapshotV2, ScopeInfo, PeerInfoV2, PeerScopeInfo, RetentionInfo } from './cli/snapshot-v2.js';
export { CursorError, type CursorReason } from './api/cursor.js';
export type { LastError } from './cli/process-info.js';
export type { TrustReload } from './cli/trust-reload.js';
export type { PeerRejected } from './sync/engine-events.js';
export type { Logger } from './node/log.js';
export { ConfigError } from './cli/config.js';
export { TrustFileError } from './cli/trust-file.js';
export { StoreWriteError } from './store/write-error.js';
export { TooLargeError } from '../protocol/errors.js';

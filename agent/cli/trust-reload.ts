/**
 * Live trust: re-read `trust.keysFile` and hand the engine the new trusted set (the file's keys
 * ∪ the config's static `trust.keys`; the config file itself is not re-read, and `trust.mode`
 * stays). The engine closes the links of peers no longer trusted, keeps every other link as it
 * is (same session, no new handshake) and admits the new keys on their next handshake
 * (`EngineV2.setTrust`). Run on SIGHUP (`systemctl reload`) and on `POST /v1/reload`.
 *
 * All or nothing: the file is read and parsed completely before anything changes, so a bad file
 * (a typo, a half-written edit) leaves the old trust in force and throws.
 */
import { fromHex, peerIdOf, toHex } from '../../protocol/keys.js';
import type { Logger } from '../node/log.js';
import type { TrustChange } from '../sync/engine-events.js';
import type { TrustMode } from '../sync/trust.js';
import type { ResolvedConfig } from './config.js';
import { readTrustFile } from './trust-file.js';

/** What reloading needs of an engine. */
export interface TrustTarget {
  setTrust(mode: TrustMode, keys: readonly Uint8Array[]): TrustChange;
}

/** What a reload did (the body of `POST /v1/reload` besides `ok`). */
export interface TrustReload {
  /** Keys trusted now (the config's and the file's; the agent's own key is trusted besides). */
  trusted: number;
  /** Keys trusted now that were not before. */
  added: number;
  /** Keys no longer trusted. */
  removed: number;
  /** Links closed because their peer is no longer trusted. */
  closed: number;
}

/**
 * Reload the trusted keys. Updates `cfg.trust.keys` and `cfg.trust.labels` in place (they are
 * what the next reload compares with, and what a status or log names peers by), then logs one
 * info line: the counts and every added and removed key with its label and peer id.
 * @throws TrustFileError when the file cannot be used; nothing changed then (the caller logs it
 *   or answers 400 with it).
 */
export function reloadTrust(engine: TrustTarget, cfg: ResolvedConfig, log: Logger): TrustReload {
  const file = cfg.trust.keysFile === null ? null : readTrustFile(cfg.trust.keysFile);
  const next = [...new Set([...cfg.trust.configKeys, ...(file?.keys ?? []).map(toHex)])];
  const labels = file?.labels ?? new Map<string, string>();
  const before = new Set(cfg.trust.keys);
  const after = new Set(next);
  const describe = (key: string, from: Map<string, string>) => ({ publicKey: key, peerId: peerIdOf(fromHex(key)), label: from.get(key) ?? null });
  const addedKeys = next.filter((k) => !before.has(k)).map((k) => describe(k, labels));
  const removedKeys = cfg.trust.keys.filter((k) => !after.has(k)).map((k) => describe(k, cfg.trust.labels));

  const change = engine.setTrust(cfg.trust.mode, next.map(fromHex));
  cfg.trust.keys = next;
  cfg.trust.labels = labels;
  const result: TrustReload = { trusted: next.length, added: change.added, removed: change.removed, closed: change.closed };
  log.info({ ...result, keysFile: cfg.trust.keysFile, addedKeys, removedKeys }, 'trust reloaded');
  return result;
}

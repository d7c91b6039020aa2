/**
 * The engine as a v2 session's {@link HandshakeDriver} sees it: the host's identity, settings,
 * trust and rejection hook, and its logger — except that the driver's warn line for a version
 * refusal (docs/design/v2-scopes.md §3.1) is counted and logged at warn at most once per peer key
 * per 10 minutes (the host keeps the times), else at debug, so a fleet in transition cannot flood
 * the log.
 */
import type { Logger } from '../node/log.js';
import type { HandshakeEngine } from './handshake-driver.js';
import type { SessionV2Host } from './session-v2-host.js';

/** {@link HandshakeEngine} over `h`; `refused` runs for every version refusal the driver makes. */
export function handshakeEngineV2(h: SessionV2Host, refused: () => void): HandshakeEngine {
  const log: Logger = {
    debug: (f, m) => h.log.debug(f, m),
    info: (f, m) => h.log.info(f, m),
    error: (f, m) => h.log.error(f, m),
    warn: (f, m) => {
      // The driver logs a refusal with its reason name and the peer's full key (handshake-driver.ts).
      const fields = f as { reason?: string; publicKey?: string };
      if (fields.reason !== 'UnsupportedVersion') return h.log.warn(f, m);
      refused();
      if (h.versionLogDue(fields.publicKey ?? '')) h.log.warn(f, m);
      else h.log.debug(f, m);
    },
  };
  return { identity: h.identity, settings: h.settings, log, admits: (k) => h.admits(k), onRejected: (i) => h.onRejected(i) };
}

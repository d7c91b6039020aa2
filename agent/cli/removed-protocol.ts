/**
 * What the CLI and the config say when asked for a protocol version this release does not speak:
 * protocol 1 (one graph per peer, no scopes) was removed in 0.2.0; its stores still open, as the
 * default scope `legacy/v1` (README "Upgrading from protocol 1").
 */

/** The release that removed protocol 1. */
export const PROTOCOL_1_REMOVED_IN = '0.2.0';

/** The text of the error for `--protocol <given>` (or `"protocol": <given>`): only 2 is spoken. */
export function removedProtocol(given: string): string {
  if (given === '1') {
    return `protocol 1 was removed in ${PROTOCOL_1_REMOVED_IN}: this release speaks protocol 2 only (a v1 data dir opens as the scope legacy/v1; drop the protocol setting)`;
  }
  return `--protocol: expected 2, got ${JSON.stringify(given)}`;
}

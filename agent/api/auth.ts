/**
 * Bearer-token authentication of the TCP listener (the unix socket has none: its 0600 mode is
 * the authentication). The token is compared in constant time: both sides are hashed to 32-byte
 * SHA-256 digests first, so `timingSafeEqual` always compares equal lengths and the comparison
 * time says nothing about the token, not even its length.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Shortest token accepted (api.md: ≥ 16 characters). */
export const MIN_TOKEN_LENGTH = 16;

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Checks `Authorization: Bearer <token>` headers against one token. */
export class BearerAuth {
  readonly #digest: Buffer;

  /** @throws RangeError when `token` is shorter than {@link MIN_TOKEN_LENGTH}. */
  constructor(token: string) {
    if (token.length < MIN_TOKEN_LENGTH) throw new RangeError(`the API token must be at least ${MIN_TOKEN_LENGTH} characters`);
    this.#digest = digest(token);
  }

  /** Whether the request carries the token (scheme case-insensitive, as RFC 7235 says). */
  allows(req: IncomingMessage): boolean {
    const h = req.headers.authorization;
    const m = h === undefined ? null : /^bearer +(.*)$/i.exec(h);
    const given = digest(m?.[1]?.trim() ?? '');
    // Compared even without a header, so a missing header costs what a wrong one does.
    return timingSafeEqual(given, this.#digest) && m !== null;
  }
}

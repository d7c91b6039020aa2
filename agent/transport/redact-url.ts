/**
 * Hiding secrets in transport URLs before they reach a log line, an error message, `status` or
 * `--print-config`. The one redaction of the agent: every place that shows a URL calls
 * {@link redactUrl}.
 */

/** Query parameters whose value is a secret wherever they appear (matched case-insensitively). */
export const SECRET_PARAMS: readonly string[] = ['password', 'passwd', 'pass', 'pwd', 'secret', 'token', 'access_token', 'api_key', 'apikey'];

/** What replaces a secret. */
export const REDACTED = '***';

/** `scheme://` + authority + the rest; the authority ends at the first `/`, `?` or `#` (WHATWG). */
const WITH_AUTHORITY = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/is;

/**
 * `raw` with its secrets replaced by `***`, and nothing else changed (no normalisation, so a
 * redacted URL still reads as the operator wrote it):
 * - the password of the userinfo, in every scheme (`mqtt://gw:***@broker:1883/…`); the user
 *   name is kept, as it names the credentials rather than being one;
 * - userinfo shared by a broker node list (`mqtts://gw:***@h1:8883,h2:8883/…`);
 * - the value of a secret query parameter ({@link SECRET_PARAMS}: `?token=***`);
 * - when a raw password holds a `/`, `?` or `#` (so the authority seems to end inside it),
 *   everything between `://` and the last `@` — a URL that broken is masked whole rather than
 *   risk showing part of a password.
 * A URL without `@` or secret parameters comes back unchanged.
 */
export function redactUrl(raw: string): string {
  const m = WITH_AUTHORITY.exec(raw);
  if (m === null) return redactQuery(raw);
  const [, scheme, authority, rest] = m as unknown as [string, string, string, string];
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    const colon = userinfo.indexOf(':');
    const shown = colon < 0 || colon === userinfo.length - 1 ? userinfo : `${userinfo.slice(0, colon + 1)}${REDACTED}`;
    return `${scheme}${shown}${authority.slice(at)}${redactQuery(rest)}`;
  }
  if (rest.includes('@') && !parses(`${scheme}${authority.split(',')[0]}${rest}`)) {
    // `mqtt://gw:pa/ss@broker`: the '@' ending the userinfo lies past the apparent authority.
    return `${scheme}${REDACTED}${redactQuery(rest.slice(rest.lastIndexOf('@')))}`;
  }
  return `${scheme}${authority}${redactQuery(rest)}`;
}

/** Whether `s` is a URL (WHATWG). */
function parses(s: string): boolean {
  try {
    new URL(s);
    return true;
  } catch {
    return false;
  }
}

/** The query of `s` (after its first `?`, up to a `#`) with the values of secret parameters masked. */
function redactQuery(s: string): string {
  const q = s.indexOf('?');
  if (q < 0) return s;
  const hash = s.indexOf('#', q);
  const end = hash < 0 ? s.length : hash;
  const pairs = s.slice(q + 1, end).split('&').map((pair) => {
    const eq = pair.indexOf('=');
    if (eq < 0) return pair;
    return isSecretParam(pair.slice(0, eq)) ? `${pair.slice(0, eq + 1)}${REDACTED}` : pair;
  });
  return `${s.slice(0, q + 1)}${pairs.join('&')}${s.slice(end)}`;
}

function isSecretParam(key: string): boolean {
  let name = key;
  try {
    name = decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    /* a malformed escape: compare the raw text */
  }
  return SECRET_PARAMS.includes(name.toLowerCase());
}

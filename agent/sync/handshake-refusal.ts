/**
 * Why a handshake input is dropped, and what the first handshake of a link says and logs when it
 * refuses a peer (PROTOCOL.md §7.1 step 2): the reason code, the `Error` text sent, the warn line.
 * Pure: builds the `Error` frame body; the handshake decides whether it refuses or drops.
 */
import { PROTOCOL_VERSION_2 } from '../../protocol/constants-v2.js';
import { encodeMessageV2 } from '../../protocol/envelope-v2.js';
import { errorMessage } from '../../protocol/error-message.js';
import type { ReasonName } from '../../protocol/errors.js';
import { peerIdOf } from '../../protocol/keys.js';
import type { Hello } from '../../protocol/messages-v2.js';

/** Why an input was dropped without an answer (the session counts it). */
export type HandshakeDrop =
  | 'version'
  | 'untrusted'
  /** Re-handshake: a `public_key` other than the current session's peer. */
  | 'other-key'
  /** The sealing negotiation refuses the peer (§7.2). */
  | 'sealing'
  /** Re-handshake: the current session is sealed and the new one would not be. */
  | 'downgrade'
  | 'weak-key'
  | 'reflected'
  | 'bad-auth'
  /** The handshake is over (refused, or a Hello/Auth that belongs to no open question). */
  | 'late';

/** A refusal of the first handshake: send `error`, log `log` at warn, close the link. */
export interface Refusal {
  reason: ReasonName;
  /** Which check refused the peer (`untrusted`: its key is not trusted; `bad-auth`: its signature failed). */
  cause: HandshakeDrop;
  /** The public key the peer's `Hello` named. */
  publicKey: Uint8Array;
  /** The `Error` frame body to send (unsealed: the link is not up). */
  error: Uint8Array;
  /** What to log. */
  log: string;
}

/** A refusal of cause `cause` for the peer with `publicKey`. */
export function refusal(cause: HandshakeDrop, publicKey: Uint8Array, reason: ReasonName, message: string, log: string): Refusal {
  return { reason, cause, publicKey: Uint8Array.from(publicKey), error: encodeMessageV2(errorMessage(reason, message)), log };
}

/**
 * The refusal of a peer `Hello` that failed check `why`. `ownVersion` is the version this side
 * speaks (default 2); the version refusal's text is PROTOCOL.md §15's (`protocol version <v> is
 * not supported; this peer speaks version <own>`).
 */
export function refusalOf(why: HandshakeDrop, h: Hello, ownVersion: number = PROTOCOL_VERSION_2): Refusal {
  const id = peerIdOf(h.public_key);
  const refuse = (reason: ReasonName, message: string, log: string): Refusal => refusal(why, h.public_key, reason, message, log);
  switch (why) {
    case 'version': {
      const text = `protocol version ${h.version} is not supported; this peer speaks version ${ownVersion}`;
      return refuse('UnsupportedVersion', text, `peer ${id} speaks protocol ${h.version}; this agent speaks ${ownVersion}: upgrade it`);
    }
    case 'untrusted':
      return refuse('Unauthorized', 'peer key not trusted', `peer ${id} not in trust list`);
    case 'sealing': {
      const text = `this link requires sealing; peer ${id} did not offer it`;
      return refuse('SealingRequired', text, text);
    }
    case 'reflected':
      return refuse('Unauthorized', 'our own Hello came back', `a Hello claiming to be peer ${id} is our own, reflected`);
    default:
      return refuse('Unauthorized', "the peer's ephemeral key is unusable", `peer ${id} sent an unusable ephemeral key (${why})`);
  }
}

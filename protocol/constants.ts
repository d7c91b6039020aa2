/**
 * Protocol constants. Every limit a decoder enforces lives here so that the spec
 * (docs/PROTOCOL.md) and the code cannot drift apart.
 */

/** Wire protocol version carried in `Hello`. A peer refuses any other major version. */
export const PROTOCOL_VERSION = 1;

/** Length in bytes of a command id (full SHA-256 of the command encoding). */
export const ID_BYTES = 32;

/** Length in bytes of an author fingerprint: the first 8 bytes of SHA-256(public key). */
export const AUTHOR_BYTES = 8;

/** Length in bytes of an ed25519 public key. */
export const PUBLIC_KEY_BYTES = 32;

/** Length in bytes of an ed25519 signature. */
export const SIGNATURE_BYTES = 64;

/** Length in bytes of the link-authentication nonce in `Hello`. */
export const NONCE_BYTES = 16;

/** Largest encoded command, signature included. Small so a UART peer can hold a few in RAM. */
export const MAX_COMMAND_BYTES = 1024;

/** Most parents one command may name (a merge joins at most this many heads). */
export const MAX_PARENTS = 16;

/** Most heads a `PollRequest` may carry. */
export const MAX_HEADS = 10;

/** Most addresses in a graph sample (`PollRequest.sample`, `Subscribe.sample`). */
export const MAX_SAMPLE = 100;

/** Most peer ids in `Subscribe.via`. */
export const MAX_VIA = 16;

/** Most public keys in one `Keys` message. */
export const MAX_KEYS = 64;

/** Longest human-readable text in an `Error`. */
export const MAX_ERROR_TEXT = 256;

/** Largest frame (encoded message) any peer may send; a peer announces its own, smaller, limit in `Hello`. */
export const MAX_FRAME_BYTES = 65536;

/**
 * Smallest frame limit a peer may announce: one full command plus the largest envelope. The
 * largest envelope is a `PollResponse` with 10 heads and 5-byte integers: 360 bytes, plus the
 * command's 3-byte string head (1387 in all); the rest is room for appended fields.
 */
export const MIN_FRAME_BYTES = MAX_COMMAND_BYTES + 512;

/**
 * Smallest `max_bytes` a poll may grant: room for the response envelope alone. A budget is
 * exact, so when the next command does not fit, the answer carries no command and `more` is
 * true: the requester must raise its budget. Small budgets are how a requester gets anything
 * through a noisy line, where the chance that a frame survives falls with its length.
 */
export const MIN_POLL_BYTES = 64;

/**
 * A poll budget that always fits one command of the maximum size, even with all ten heads in the
 * answer (the 360-byte largest envelope, a 3-byte string head, 1,024 bytes). A requester whose
 * answer fit no command raises `max_bytes` up to this, whatever its configured maximum (§8.2).
 */
export const POLL_FIT_ANY_BYTES = 1387;

/** Default subscription table capacity (a power of two). */
export const DEFAULT_SUBSCRIPTION_CAPACITY = 128;

/** Capability bits announced in `Hello.caps`. */
export const Capability = {
  /** The peer answers `Subscribe` and pushes. */
  Push: 1,
  /** The peer accepts a bare command as a one-command push (saves the envelope on a UART). */
  BareCommand: 2,
  /** The peer seals this link (policy `require` or `prefer`, §7.2); both must announce it. */
  Seal: 4,
} as const;

/** Length of the X25519 ephemeral public key in `Hello.ephemeral`. */
export const EPHEMERAL_KEY_BYTES = 32;

/** Deepest CBOR nesting any message needs (envelope → list → command); deeper input is malformed. */
export const MAX_CBOR_DEPTH = 4;

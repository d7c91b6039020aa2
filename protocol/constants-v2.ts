/**
 * Constants of protocol version 2 (scopes, commands v2, horizon records; the design is
 * docs/design/v2-scopes.md, §3.12 lists these). Version 1 constants that v2 keeps unchanged
 * (id, author, key and signature sizes, `MAX_COMMAND_BYTES`, `MAX_PARENTS`, frame limits) stay
 * in constants.ts. Nothing here is spoken on the wire until the agent switches to version 2.
 */

/** `Hello.version` of protocol version 2. */
export const PROTOCOL_VERSION_2 = 2;

/** What a command is (`kind`, field 3 of a v2 command). Other values are `Malformed`. */
export const CommandKind = {
  /** Application data: the payload is opaque. */
  Data: 0,
  /** A scope's genesis: no parents, seq 0, payload the genesis body; its id is the scope id. */
  Genesis: 1,
  /** A membership change signed by an admin: payload the membership body. */
  Membership: 2,
} as const;
/** Numeric value of a command kind. */
export type CommandKindValue = (typeof CommandKind)[keyof typeof CommandKind];

/** Role bits a scope gives a member key (genesis `members`, membership `ops`). */
export const Role = {
  /** The scope may be offered to, polled by, subscribed to and pushed to this key's peer. */
  Read: 1,
  /** Data commands authored by this key are accepted. */
  Write: 2,
  /** Membership commands authored by this key are accepted. */
  Admin: 4,
} as const;
/** Every role bit: roles above this are `Malformed`. */
export const ALL_ROLES = 7;

/** Genesis `flags` bit: every peer the host's link trust admits may read the scope. */
export const GENESIS_OPEN_READ = 1;
/** The only genesis body format of this revision. */
export const GENESIS_FORMAT = 1;

/** Hash context of a genesis id (= the scope id): `H(ctx ‖ unsigned genesis)`. 15 ASCII bytes. */
export const GENESIS_ID_CONTEXT = new TextEncoder().encode('syncwire-gen-v2');
/** Hash context of every other command id: `H(ctx ‖ scope id ‖ unsigned)`. 15 ASCII bytes. */
export const COMMAND_ID_CONTEXT = new TextEncoder().encode('syncwire-cmd-v2');
/** Signature context: a v2 command's signature signs `ctx ‖ id` (47 bytes). 15 ASCII bytes. */
export const SIGNATURE_CONTEXT_V2 = new TextEncoder().encode('syncwire-sig-v2');

/** Largest scope number in a `Scopes` entry. */
export const MAX_SCOPE_NUMBER = 65_535;
/** Most peer scope entries one side accepts per link. */
export const MAX_LINK_SCOPES = 4096;
/** Entries in one `Scopes` message's `open` list. */
export const MAX_SCOPES_OPEN = 8;
/** Entries in one `Scopes` message's `close` list. */
export const MAX_SCOPES_CLOSE = 16;
/** Characters of a scope name (ASCII, `^[a-z0-9][a-z0-9._/-]{0,63}$`). */
export const MAX_SCOPE_NAME = 64;
/** The pattern every scope name matches. */
export const SCOPE_NAME_PATTERN = /^[a-z0-9][a-z0-9._/-]{0,63}$/;
/** Members listed in a genesis. */
export const MAX_GENESIS_MEMBERS = 16;
/** Ops in one membership command. */
export const MAX_MEMBERSHIP_OPS = 16;
/** Membership commands in a command's membership frontier `F(c)`. */
export const MAX_FRONTIER = 16;
/** Membership commands per scope, genesis included. */
export const MAX_MEMBERSHIP_COMMANDS = 1024;
/** Largest depth a horizon record may state. */
export const MAX_DEPTH = 2 ** 31 - 1;
/** Horizon entries a requester names in a poll's `sample`. */
export const MAX_HORIZON_SAMPLE = 32;
/** Horizon entries a host's pruning keeps within. */
export const HORIZON_TARGET = 32;
/** Horizon records a requester keeps per (link, scope) during a poll round. */
export const MAX_PENDING_RECORDS = 64;
/** A v2 poll budget that fits any one item with all ten heads (364-byte envelope + 3 + 1,024). */
export const POLL_FIT_ANY_BYTES_V2 = 1391;
/** First byte of a v2 command encoding (CBOR array of 6), as an item of `PollResponse.items`. */
export const ITEM_COMMAND = 0x86;
/** First byte of a horizon record (CBOR array of 3), as an item of `PollResponse.items`. */
export const ITEM_HORIZON_RECORD = 0x83;
/**
 * `Hello.caps` bit `CompactBatch` (docs/design/bulk-sync.md §2): the sender takes `PollResponse.batch`
 * and `Push.batch` (compact batches with covered signatures) and may ask for them.
 */
export const CAPABILITY_COMPACT_BATCH = 8;
/**
 * `Hello.caps` bit `PollTrain` (docs/design/bulk-sync.md §5): the sender answers a `PollRequest`
 * with `train_bytes` > 0 by a train of `PollResponse`s, and may ask for one.
 */
export const CAPABILITY_POLL_TRAIN = 16;
/** Most bytes one poll may ask a train for (`PollRequest.train_bytes`). */
export const MAX_TRAIN_BYTES = 1 << 20;
/**
 * Rule C5 (PROTOCOL.md §10.7): the segment of a push, and of a poll answer whose `PollRequest` has
 * no `segment`, and the least `segment` a poll may state. A sender that elides signatures closes a
 * segment at least every this many bytes of entries, so that a host holding the commands so can
 * re-send each with its cover inside any answer of at least `MIN_FRAME_BYTES` (1,536).
 */
export const SEGMENT_BYTES = 1024;

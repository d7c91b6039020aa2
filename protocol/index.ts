/** Public surface of the pure protocol layer (protocol version 2, PROTOCOL.md). */
export * from './constants.js';
export * from './constants-v2.js';
export * from './errors.js';
export * from './cbor.js';
// Types only: the TypeBox schemas are not loaded at run time (see messages-v2.ts).
export type * from './messages-v2.js';
export * from './message-type-v2.js';
export * from './envelope-v2.js';
export * from './bare-push-v2.js';
export { compareBytes, fingerprint, sha256 } from './command.js';
export * from './command-v2.js';
export * from './keys.js';
export * from './cobs.js';
export * from './frame-decoder.js';
export * from './serial-frame.js';
export * from './tcp-frame.js';
export * from './mqtt-topics.js';
export * from './fnv.js';
export * from './bytes.js';
export * from './seal.js';
export * from './error-message.js';

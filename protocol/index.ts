/** Public surface of the pure protocol layer. */
export * from './constants.js';
export * from './errors.js';
export * from './cbor.js';
// Types only: the TypeBox schemas are not loaded at run time (see messages.ts).
export type * from './messages.js';
export * from './message-type.js';
export * from './envelope.js';
export * from './command.js';
export * from './keys.js';
export * from './cobs.js';
export * from './frame-decoder.js';
export * from './serial-frame.js';
export * from './tcp-frame.js';
export * from './mqtt-topics.js';
export * from './fnv.js';
export * from './bytes.js';
export * from './seal.js';

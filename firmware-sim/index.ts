/**
 * `firmware-sim`: the simulated UART (`uart/`, a serialport binding) and the simulated device
 * (`device/`, the protocol's second implementation), each with its own entry. Nothing in
 * `uart/` knows the device, and the device reaches a serial port only through
 * `wiring/serial-wiring.ts`.
 */
export * from './uart/index.js';
export * from './device-v2/index.js';
export * from './wiring/index.js';

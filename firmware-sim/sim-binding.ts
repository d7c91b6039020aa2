/**
 * Old path of the simulated UART, kept for the importers not yet moved to `firmware-sim/uart/`
 * (or the `firmware-sim/index.ts` entry). Remove once none is left.
 */
export * from './uart/index.js';

/**
 * Old path of the simulated device, kept for importers not yet moved to `firmware-sim/device/`
 * (or the `firmware-sim/index.ts` entry). Remove once none is left.
 */
export * from './device/index.js';

/** Old path of `device/ring.ts`, kept for importers not yet moved to `firmware-sim/device/`. Remove once none is left. */
export * from './device/ring.js';

/** Old path of `device/poll.ts`, kept for importers not yet moved to `firmware-sim/device/`. Remove once none is left. */
export * from './device/poll.js';

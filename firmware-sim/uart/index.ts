/**
 * The simulated UART: a `@serialport/bindings-interface` binding over in-process null-modem
 * links, so the real `SerialPortStream` (and everything built on it) runs unchanged, with line
 * rate, buffers and faults modelled. It knows nothing of syncwire: any serialport user could take
 * it as it is.
 *
 * ```ts
 * const registry = new SimRegistry();
 * const link = createSimLink({ pathA: '/dev/simA', pathB: '/dev/simB', registry });
 * const binding = createSimBinding(registry);
 * const port = new SerialPortStream({ binding, path: '/dev/simA', baudRate: 115200 });
 * ```
 *
 * Parts: sim-binding.ts (the binding and its ports), sim-link.ts (the cable: plug, unplug,
 * faults), sim-line.ts (one direction: pacing and faults), sim-endpoint.ts (receive buffers and
 * the registry), sim-errors.ts (bindings-cpp-shaped errors).
 */
export { SimPort, createSimBinding, type SimBinding } from './sim-binding.js';
export { SimLink, createSimLink, type SimLinkOptions, type SimLinkStats } from './sim-link.js';
export { SimEndpoint, SimRegistry, type SimLinkView, type SimPortHandle } from './sim-endpoint.js';
export * from './sim-errors.js';
export { BITS_PER_BYTE_8N1, type SimDirectionStats, type SimFaults } from './sim-line.js';

/**
 * The parts of a status snapshot that only the process knows, whatever engine it runs: its
 * transports and their links, the last error it recorded, and which heavy modules it has loaded
 * (the proof that transports load lazily).
 */
import { createRequire } from 'node:module';

/** One configured transport and the links it currently holds. */
export interface TransportInfo {
  url: string;
  /** Bound port of a listener (port 0 resolved), else null. */
  localPort: number | null;
  links: string[];
}

/** The last error the process recorded. */
export interface LastError {
  /** Epoch ms. */
  atMs: number;
  message: string;
}

const req = createRequire(import.meta.url);

/** Which heavy modules are in this process's CommonJS cache (mqtt and serialport are CJS). */
export function loadedModules(): { mqtt: boolean; serialport: boolean } {
  const keys = Object.keys(req.cache);
  return {
    mqtt: keys.some((k) => /[\\/]node_modules[\\/]mqtt[\\/]/.test(k)),
    serialport: keys.some((k) => /[\\/]node_modules[\\/](serialport|@serialport[\\/]bindings-cpp)[\\/]/.test(k)),
  };
}


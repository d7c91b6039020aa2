/**
 * The demo's zero-setup MQTT broker: aedes in-process on a free loopback port (MQTT 3.1.1 only,
 * which is what the MQTT transport speaks by default). Imported only by the demo.
 *
 * aedes is an optional peer dependency: a production install (`npm ci --omit=dev`, or the packed
 * tarball) leaves it out, since no agent or gateway needs it. Without it the demo stops with
 * {@link DemoBrokerMissingError}, which says how to get it or how to use a broker of one's own.
 */
import net from 'node:net';

/** Why the in-process broker cannot start. */
export type DemoBrokerMissingReason = 'aedes-not-installed';

/**
 * The optional package `aedes` is not installed. `exitCode` 1 (a runtime failure, not a usage
 * error: the same command works once the package is there).
 */
export class DemoBrokerMissingError extends Error {
  readonly reason: DemoBrokerMissingReason = 'aedes-not-installed';
  readonly exitCode = 1;
  constructor() {
    super(
      'the in-process MQTT broker needs the optional package "aedes", which is not installed. ' +
        'Install it next to syncwire (`npm install aedes`), or run a broker yourself and pass ' +
        'its URL: `syncwire demo --mqtt mqtt://127.0.0.1:1883` (e.g. mosquitto: `apt install mosquitto`).',
    );
    this.name = 'DemoBrokerMissingError';
  }
}

/** Import aedes, mapping "not installed" (and only that) to {@link DemoBrokerMissingError}. */
async function loadAedes(): Promise<typeof import('aedes')> {
  try {
    return await import('aedes');
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const missing = code === 'ERR_MODULE_NOT_FOUND' && /['"]aedes['"]/.test((err as Error).message);
    if (missing) throw new DemoBrokerMissingError();
    throw err;
  }
}

/** A running in-process broker. */
export interface DemoBroker {
  /** `mqtt://127.0.0.1:<port>`. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Start aedes on 127.0.0.1, any free port.
 * @throws DemoBrokerMissingError when the optional package aedes is not installed.
 */
export async function startDemoBroker(): Promise<DemoBroker> {
  const { Aedes } = await loadAedes();
  const broker = await Aedes.createBroker();
  const server = net.createServer(broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    close: async () => {
      // Clients are gone by now; close() waits for none of them.
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    },
  };
}

/**
 * The demo's zero-setup MQTT broker: aedes in-process on a free loopback port (MQTT 3.1.1 only,
 * which is what the MQTT transport speaks by default). Imported only by the demo.
 *
 * aedes is an optional peer dependency: a production install (`npm ci --omit=dev`, or the packed
 * tarball) leaves it out, since no agent or gateway needs it. Without it the demo stops with
 * {@link DemoBrokerUnavailableError}, which says how to get it or how to use a broker of one's own.
 */
import net from 'node:net';
import { EXIT } from './exit-codes.js';

/** Why the in-process broker cannot start. */
export type DemoBrokerUnavailableReason = 'aedes-not-installed' | 'aedes-needs-newer-node';

const USE_YOUR_OWN =
  'or run a broker yourself and pass its URL: `syncwire demo --mqtt mqtt://127.0.0.1:1883` ' +
  '(e.g. mosquitto: `apt install mosquitto`).';

/**
 * The in-process broker cannot run here: the optional package `aedes` is not installed, or this
 * Node is older than aedes 1.x needs (it uses import attributes, Node >= 20.10). `exitCode` 1 (a
 * runtime failure, not a usage error: the same command works once the cause is gone).
 */
export class DemoBrokerUnavailableError extends Error {
  readonly exitCode = EXIT.failure;
  constructor(readonly reason: DemoBrokerUnavailableReason) {
    super(
      reason === 'aedes-not-installed'
        ? 'the in-process MQTT broker needs the optional package "aedes", which is not installed. ' +
            `Install it next to syncwire (\`npm install aedes\`), ${USE_YOUR_OWN}`
        : `the in-process MQTT broker (aedes) needs Node >= 20.10 (this is ${process.version}): use a newer Node, ${USE_YOUR_OWN}`,
    );
    this.name = 'DemoBrokerUnavailableError';
  }
}

/** True for a Node older than 20.10, whose parser rejects `import … with { type: 'json' }`. */
function beforeImportAttributes(): boolean {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  return major < 20 || (major === 20 && minor < 10);
}

/** Import aedes, mapping "cannot run here" (and only that) to {@link DemoBrokerUnavailableError}. */
async function loadAedes(): Promise<typeof import('aedes')> {
  try {
    return await import('aedes');
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && /['"]aedes['"]/.test((err as Error).message)) throw new DemoBrokerUnavailableError('aedes-not-installed');
    if (err instanceof SyntaxError && beforeImportAttributes()) throw new DemoBrokerUnavailableError('aedes-needs-newer-node');
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
 * @throws DemoBrokerUnavailableError when aedes is not installed or cannot run on this Node.
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

/**
 * The demo's zero-setup MQTT broker: aedes in-process on a free loopback port (MQTT 3.1.1 only,
 * which is what the MQTT transport speaks by default). Imported only by the demo.
 */
import net from 'node:net';

/** A running in-process broker. */
export interface DemoBroker {
  /** `mqtt://127.0.0.1:<port>`. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Start aedes on 127.0.0.1, any free port. */
export async function startDemoBroker(): Promise<DemoBroker> {
  const { Aedes } = await import('aedes');
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

/** The chaos soaks' TCP fault: a proxy to a local listener that cuts every connection on demand (v1 and v2 soaks). */
import * as net from 'node:net';

/** TCP proxy that resets its connections on demand, and refuses new ones while `blocked`. */
export class ResettingProxy {
  server: net.Server;
  pairs = new Set<[net.Socket, net.Socket]>();
  resets = 0;
  port = 0;
  blocked = false;
  constructor(target: number) {
    this.server = net.createServer((client) => {
      if (this.blocked) {
        client.resetAndDestroy();
        return;
      }
      const up = net.connect(target, '127.0.0.1');
      const pair: [net.Socket, net.Socket] = [client, up];
      this.pairs.add(pair);
      client.pipe(up);
      up.pipe(client);
      const done = (): void => {
        this.pairs.delete(pair);
        client.destroy();
        up.destroy();
      };
      client.on('error', done).on('close', done);
      up.on('error', done).on('close', done);
    });
  }
  async listen(): Promise<number> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }
  reset(): void {
    for (const [c, u] of this.pairs) {
      this.resets++;
      c.resetAndDestroy();
      u.resetAndDestroy();
    }
    this.pairs.clear();
  }
  async close(): Promise<void> {
    this.reset();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/**
 * Loopback networking for tests and benchmarks: free ports, waiting for a listener, and real
 * brokers on free ports — Mosquitto from a generated (or shipped) config, and a NATS cluster
 * with MQTT on every node. Each broker is started by the test and killed by it; binaries are
 * looked up on PATH and in /usr/sbin.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { sleep } from './wait.js';

/** Absolute path of `name`, or '' when it is not installed. */
export function findBin(name: string): string {
  const p = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim();
  if (p !== '') return p;
  for (const dir of ['/usr/sbin', '/usr/bin', '/usr/local/sbin']) if (existsSync(join(dir, name))) return join(dir, name);
  return '';
}

/** A free TCP port on 127.0.0.1 (closed again before returning). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Resolve once `port` accepts a TCP connection; throw if `child` exits or 20 s pass. */
export async function waitForPort(port: number, child: ChildProcess, what: string): Promise<void> {
  for (let i = 0; ; i++) {
    if (child.exitCode !== null || i > 800) throw new Error(`${what} did not start`);
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        r(true);
      });
      s.once('error', () => r(false));
    });
    if (ok) return;
    await sleep(25);
  }
}

/** A broker process that can be killed and started again on the same port(s). */
export interface BrokerProcess {
  child: ChildProcess;
  start(): Promise<void>;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
}

function managed(bin: string, args: string[], port: number, what: string): BrokerProcess {
  const b: BrokerProcess = {
    child: undefined as unknown as ChildProcess,
    async start() {
      b.child = spawn(bin, args, { stdio: 'ignore' });
      await waitForPort(port, b.child, what);
    },
    async kill() {
      const c = b.child;
      if (c.exitCode !== null || c.signalCode !== null) return;
      const dead = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await dead;
    },
  };
  return b;
}

/** Mosquitto with config file `conf` listening on `port` (the config must say so). */
export function mosquitto(conf: string, port: number): BrokerProcess {
  return managed(findBin('mosquitto'), ['-c', conf], port, 'mosquitto');
}

/** Write a Mosquitto config on `port` in `dir`: anonymous, no persistence, plus `extra` lines. */
export function mosquittoConf(dir: string, port: number, extra: string[] = []): string {
  const file = join(dir, `mosquitto-${port}.conf`);
  writeFileSync(file, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', ...extra, ''].join('\n'));
  return file;
}

/** One node of a NATS cluster: its MQTT port and process. */
export interface NatsNode extends BrokerProcess {
  name: string;
  mqttPort: number;
}

/** Config and processes (not started) of an `n`-node NATS cluster with MQTT and JetStream on each node. */
export async function natsCluster(dir: string, n: number): Promise<NatsNode[]> {
  const ports = await Promise.all(Array.from({ length: n }, async () => ({ client: await freePort(), cluster: await freePort(), mqtt: await freePort() })));
  const bin = findBin('nats-server');
  return ports.map((p, i) => {
    const name = `n${i + 1}`;
    const store = join(dir, name);
    mkdirSync(store, { recursive: true });
    const routes = ports.filter((_, j) => j !== i).map((q) => `nats-route://127.0.0.1:${q.cluster}`);
    const conf = join(dir, `${name}.conf`);
    writeFileSync(conf, [
      `server_name: ${name}`,
      `listen: 127.0.0.1:${p.client}`,
      `jetstream { store_dir: "${store}" }`,
      `cluster { name: syncwire-test, listen: 127.0.0.1:${p.cluster}, routes: [${routes.join(', ')}] }`,
      // MQTT streams on every node: NATS sizes them by the nodes it sees when the first client
      // connects (two, if the third is still starting), and a stream on two nodes stops when one dies.
      `mqtt { listen: 127.0.0.1:${p.mqtt}, stream_replicas: ${n} }`,
      '',
    ].join('\n'));
    return Object.assign(managed(bin, ['-c', conf], p.mqtt, `nats-server ${name}`), { name, mqttPort: p.mqtt });
  });
}

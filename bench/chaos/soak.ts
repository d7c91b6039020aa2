/**
 * Link chaos soak, in one process (the simulated UART binding joins both ends in-process):
 * a gateway (DiskStore), three agents (serial, TCP through a resetting proxy, MQTT through a
 * real Mosquitto the harness restarts) and two firmware-sim devices on lossy, periodically
 * unplugged UARTs; concurrent writers throughout. See docs/RELIABILITY.md.
 *
 * Broker faults alternate: a SIGKILL and restart, and a session-losing restart in the order that
 * deadlocked relinks in the field — SIGTERM (every will fires, `persistence false` forgets every
 * session and retained message), then the gateway reconnects first and the MQTT agent only
 * seconds later (its broker connection goes through a proxy that refuses it until then).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { ResettingProxy } from './resetting-proxy.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPortStream } from '@serialport/stream';
import { DiskStore } from '../../agent/store/disk-store.js';
import { MemoryStore } from '../../agent/store/memory-store.js';
import type { CommandStore } from '../../agent/store/command-store.js';
import { Engine, type EngineOptions } from '../../agent/sync/engine.js';
import type { ArqEndpoint } from '../../protocol/serial-arq.js';
import { attachTransport } from '../../agent/node/attach-transport.js';
import type { Link } from '../../agent/link.js';
import type { OpenedTransport } from '../../agent/transport/registry.js';
import { attachDeviceToSerialPort, createDevice, type SimDevice } from '../../firmware-sim/device/index.js';
import { createSimBinding, createSimLink, SimRegistry, type SimLink } from '../../firmware-sim/uart/index.js';
import { generateIdentity, toHex } from '../../protocol/keys.js';
import { median, round, rssMb, sleep, until, type ChaosConfig, type Figures } from './common.js';

const MOSQUITTO = process.env.MOSQUITTO ?? '/usr/sbin/mosquitto';
const BAUD = 115200;
const PACE: Partial<EngineOptions> = {
  pollHint: { minMs: 250, maxMs: 2000 },
  subscribedPollS: 5,
  backoff: { baseMs: 100, capMs: 5000, floorMs: 20, jitter: 0.2 },
  pollTimeoutMs: 2000,
};

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}

const rand = (a: number, b: number): number => a + Math.random() * (b - a);

class Broker {
  child: ChildProcess | null = null;
  kills = 0;
  unexpectedExits = 0;
  constructor(
    readonly port: number,
    readonly conf: string,
  ) {}
  async start(): Promise<void> {
    const c = spawn(MOSQUITTO, ['-c', this.conf], { stdio: 'ignore' });
    this.child = c;
    c.on('exit', () => {
      if (this.child === c) {
        this.unexpectedExits++;
        this.child = null;
      }
    });
    await until(() => false, 0);
    for (let i = 0; i < 100; i++) {
      const ok = await new Promise<boolean>((r) => {
        const s = net.connect(this.port, '127.0.0.1', () => {
          s.destroy();
          r(true);
        });
        s.on('error', () => r(false));
      });
      if (ok) return;
      await sleep(50);
    }
    throw new Error('mosquitto did not start');
  }
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    const c = this.child;
    if (c === null) return;
    this.child = null;
    this.kills++;
    c.kill(signal);
  }
  /** SIGTERM and wait for the exit (Mosquitto publishes the wills on the way down). */
  async stop(): Promise<void> {
    const c = this.child;
    if (c === null) return;
    const exited = new Promise((r) => c.once('exit', r));
    this.kill('SIGTERM');
    await exited;
  }
}


interface Node {
  name: string;
  engine: Engine;
  store: CommandStore;
  transports: OpenedTransport[];
  acked: string[];
}

/** Every link each engine's transports attached (`onLink`), for {@link describeSession}. */
const linksOf = new Map<Engine, Link[]>();
const recordLink = (e: Engine) => (l: Link): void => void (linksOf.get(e) ?? linksOf.set(e, []).get(e)!).push(l);

/** One line on a session and its link (the serial pair's state when something stalls). */
function describeSession(engine: Engine, peerId: string): string {
  const s = engine.snapshot().peers.find((p) => p.authenticated && p.id === peerId);
  if (s === undefined) return 'no session';
  const { sync, ...stats } = s;
  const link = [...(linksOf.get(engine) ?? [])].reverse().find((l) => l.description === s.link) as { arq?: ArqEndpoint; droppedMessages?: number; open?: boolean } | undefined;
  const arq = link?.arq;
  const arqText = arq ? ` arq{epoch ${arq.epoch}, queued ${arq.queuedBytes}, dropped ${link?.droppedMessages ?? 0}, ${JSON.stringify(arq.stats)}}` : '';
  return `auth ${String(s.authenticated)}, link open ${String(link?.open)}, client ${JSON.stringify(sync)}, stats ${JSON.stringify(stats)}${arqText}`;
}

export async function runSoak(cfg: ChaosConfig): Promise<Figures> {
  const seconds = cfg.soakSeconds;
  let crashes = 0;
  const crashLog: string[] = [];
  const onCrash = (err: unknown): void => {
    crashes++;
    if (crashLog.length < 5) crashLog.push(String(err instanceof Error ? err.stack : err).slice(0, 400));
    cfg.log(`soak: CRASH ${String(err)}`);
  };
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  const dir = mkdtempSync(join(tmpdir(), 'syncwire-soak-'));
  const timers: NodeJS.Timeout[] = [];
  const names = ['gateway', 'serial-agent', 'tcp-agent', 'mqtt-agent'];
  const ids = Object.fromEntries([...names, 'device-1', 'device-2'].map((n) => [n, generateIdentity()]));
  const keys = Object.values(ids).map((i) => i.publicKey);
  const warns: Record<string, number> = {};
  const mk = (name: string, store: CommandStore): Node => ({
    name,
    store,
    engine: new Engine({ identity: ids[name]!, store, trust: { mode: 'list', keys }, ...PACE, ...(name === 'serial-agent' ? { pollMaxBytes: 1536 } : {}) }),
    transports: [],
    acked: [],
  });
  const gw = mk('gateway', await DiskStore.open(join(dir, 'gw'), { durability: { mode: 'batch', ms: 50 } }));
  const agents = [mk('serial-agent', new MemoryStore()), mk('tcp-agent', new MemoryStore()), mk('mqtt-agent', new MemoryStore())];
  const all = [gw, ...agents];
  const add = async (n: Node, url: string, extra: object = {}): Promise<void> => {
    const countWarn = (e: Error): void => {
      const key = `${n.name}:${(e as { kind?: string }).kind ?? e.name}`;
      warns[key] = (warns[key] ?? 0) + 1;
    };
    const t = await attachTransport(url, n.engine, { reconnectBaseMs: 100, reconnectMaxMs: 2000, ...extra, onWarn: countWarn, onLink: recordLink(n.engine) });
    n.transports.push(t.transport);
  };

  // Mosquitto.
  const mqttPort = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${mqttPort} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 10000\n`);
  const broker = new Broker(mqttPort, conf);
  await broker.start();

  // UARTs: gateway ⇄ serial-agent, gateway ⇄ device-1, gateway ⇄ device-2.
  const registry = new SimRegistry();
  const binding = createSimBinding(registry);
  const tag = randomBytes(3).toString('hex');
  const uarts: SimLink[] = ['agent', 'device-1', 'device-2'].map((end) =>
    createSimLink({ pathA: `/dev/soak-${tag}-gw-${end}`, pathB: `/dev/soak-${tag}-${end}`, baudRate: BAUD, registry, bitErrorRate: 1e-5, dropRate: 0.01, seed: Math.floor(Math.random() * 1e9) }),
  );
  const tcp = await attachTransport('tcp-listen://127.0.0.1:0', gw.engine, { onLink: recordLink(gw.engine) });
  gw.transports.push(tcp.transport);
  const proxy = new ResettingProxy(tcp.localPort!);
  await proxy.listen();
  const prefix = `soak-${tag}`;
  await add(gw, `mqtt-listen://127.0.0.1:${mqttPort}?prefix=${prefix}`);
  for (const u of uarts) await add(gw, `serial:${u.a.path}?baud=${BAUD}`, { binding });
  await add(agents[0]!, `serial:${uarts[0]!.b.path}?baud=${BAUD}`, { binding });
  await add(agents[1]!, `tcp://127.0.0.1:${proxy.port}`);
  // The MQTT agent reaches the broker through a proxy, so a restart can hold it back.
  const mqttGate = new ResettingProxy(mqttPort);
  await mqttGate.listen();
  await add(agents[2]!, `mqtt://127.0.0.1:${mqttGate.port}/${gw.engine.peerId}?prefix=${prefix}`);

  // Devices on the far ends of UARTs 2 and 3; a new port after each replug.
  const deviceAcked: string[] = [];
  const devices: { dev: SimDevice; uart: SimLink; port: SerialPortStream; att: ReturnType<typeof attachDeviceToSerialPort> }[] = [];
  for (const [i, name] of ['device-1', 'device-2'].entries()) {
    const uart = uarts[i + 1]!;
    const dev = createDevice({ identity: ids[name]!, trustedKeys: keys, telemetryMs: 1000, handshakeRetryMs: 500, pollMs: 3000 });
    dev.on('commit', (c) => deviceAcked.push(toHex(c.id)));
    const port = new SerialPortStream({ binding, path: uart.b.path, baudRate: BAUD });
    port.on('error', () => undefined);
    const att = attachDeviceToSerialPort(dev, port);
    dev.start();
    devices.push({ dev, uart, port, att });
  }
  const reopenDevice = (d: (typeof devices)[number]): void => {
    const port = new SerialPortStream({ binding, path: d.uart.b.path, baudRate: BAUD });
    port.on('error', () => undefined);
    d.port = port;
    d.att.replace(port);
  };

  // Chaos schedules.
  let stopping = false;
  let unplugs = 0;
  const later = (ms: number, f: () => void): void => {
    const t = setTimeout(() => {
      if (!stopping) f();
    }, ms);
    timers.push(t);
  };
  for (const u of uarts) {
    const cycle = (): void => {
      u.unplug();
      unplugs++;
      later(rand(300, 2000), () => {
        u.replug();
        const d = devices.find((x) => x.uart === u);
        if (d) reopenDevice(d);
        later(rand(5000, 15000), cycle);
      });
    };
    later(rand(5000, 15000), cycle);
  }
  const resetLoop = (): void => {
    proxy.reset();
    later(rand(3000, 12000), resetLoop);
  };
  later(rand(3000, 12000), resetLoop);
  let orderedRestarts = 0;
  const relinkMs: number[] = [];
  let relinkFailures = 0;
  const mqttAgent = agents[2]!;
  let sessionLosing = false;
  const brokerLoop = (): void => {
    sessionLosing = !sessionLosing;
    if (!sessionLosing) {
      broker.kill();
      later(rand(1000, 3000), () => {
        void broker.start().then(() => later(rand(20000, 40000), brokerLoop), onCrash);
      });
      return;
    }
    // Session-losing restart, gateway first: the agent is refused until 3–6 s after the broker
    // is back (the gateway's broker reconnect delay is at most 2 s here).
    orderedRestarts++;
    mqttGate.blocked = true;
    mqttGate.reset();
    void broker.stop().then(() => later(rand(1000, 3000), () => {
      void broker.start().then(() => later(rand(3000, 6000), () => {
        mqttGate.blocked = false;
        const opened = Date.now();
        const relinked = (): boolean => mqttAgent.engine.snapshot().peers.some((p) => p.authenticated && p.id === gw.engine.peerId);
        // Ends with the soak too: the settle phase lifts the gate anyway, and no timer may outlive the run.
        void until(() => stopping || relinked(), 60000, 100).then(() => {
          if (stopping && !relinked()) return;
          const ok = relinked();
          if (ok) relinkMs.push(Date.now() - opened);
          else relinkFailures++;
          cfg.log(`soak: session-losing restart ${orderedRestarts}: MQTT agent ${ok ? `relinked ${Date.now() - opened} ms after it could reach the broker` : 'did NOT relink within 60 s'}`);
        });
        later(rand(20000, 40000), brokerLoop);
      }), onCrash);
    }), onCrash);
  };
  later(cfg.quick ? seconds * 400 : rand(20000, 40000), brokerLoop);

  // Writers.
  let commands = 0;
  let commitErrors = 0;
  const writers = all.map(async (n) => {
    while (!stopping) {
      try {
        const id = await n.engine.commit(new Uint8Array(randomBytes(32 + Math.floor(Math.random() * 128))));
        n.acked.push(toHex(id));
        commands++;
      } catch (err) {
        commitErrors++;
        if (!stopping) onCrash(err);
      }
      // ~1 command/s per writer, 4/s in all (~0.8 kB/s): the lossy, often-unplugged UART moves
      // 2–4 kB/s of messages, and a writer rate above the slowest link's capacity can only grow
      // its backlog, whatever the protocol does.
      await sleep(rand(500, 1500));
    }
  });

  // RSS sampling.
  const rss: number[] = [];
  const t0 = Date.now();
  let lastLog = t0;
  while (Date.now() - t0 < seconds * 1000) {
    await sleep(1000);
    rss.push(rssMb());
    if (Date.now() - lastLog > (process.env.SOAK_DEBUG === '1' ? 10000 : 30000)) {
      lastLog = Date.now();
      cfg.log(`soak: ${Math.round((Date.now() - t0) / 1000)} s, ${commands} commands, sizes ${all.map((n) => n.store.size).join('/')}, rss ${round(rss.at(-1)!)} MB`);
      if (process.env.SOAK_DEBUG === '1') cfg.log(`soak: serial pair: gateway→agent ${describeSession(gw.engine, agents[0]!.engine.peerId)} | agent→gateway ${describeSession(agents[0]!.engine, gw.engine.peerId)}`);
    }
  }

  // Stop the chaos, then the writers; let everything settle.
  stopping = true;
  for (const t of timers) clearTimeout(t);
  for (const u of uarts) {
    if (!u.plugged) {
      u.replug();
      const d = devices.find((x) => x.uart === u);
      if (d) reopenDevice(d);
    }
  }
  if (broker.child === null) await broker.start();
  mqttGate.blocked = false;
  await Promise.all(writers);
  for (const d of devices) d.dev.stop();
  const deviceCommits = deviceAcked.length;
  const settleStart = Date.now();
  const graphKey = (n: Node): string => {
    const ids: string[] = [];
    for (let h = 0; h < n.store.size; h++) ids.push(toHex(n.store.idOf(h)));
    return ids.sort().join();
  };
  // Converged = identical graphs that also hold every acknowledged commit, the devices' too
  // (they are polled at their own pace, so equal engine graphs alone can come early).
  const acked = (): Buffer[] => [...all.flatMap((n) => n.acked), ...deviceAcked].map((h) => Buffer.from(h, 'hex'));
  const converged = await until(() => {
    const s = all.map((n) => n.store.size);
    if (!s.every((x) => x === s[0])) return false;
    if (!acked().every((id) => gw.store.indexOf(id) >= 0)) return false;
    const g = graphKey(gw);
    return all.every((n) => graphKey(n) === g);
  }, cfg.quick ? 90000 : 180000, 250);
  const settleMs = Date.now() - settleStart;
  const ackedAll = [...all.flatMap((n) => n.acked), ...deviceAcked];
  let lost = 0;
  const missingBy: Record<string, number> = {};
  for (const n of all) {
    for (const hex of ackedAll) {
      const b = Buffer.from(hex, 'hex');
      if (n.store.indexOf(b) < 0) {
        lost++;
        missingBy[n.name] = (missingBy[n.name] ?? 0) + 1;
      }
    }
  }
  if (!converged) {
    cfg.log(`soak: NOT converged: sizes ${all.map((n) => `${n.name}=${n.store.size}`).join(' ')}, missing ${JSON.stringify(missingBy)}`);
    const lostIds = [...all.map((n) => [n.name, n.acked] as const), ['devices', deviceAcked] as const].flatMap(([name, ids]) =>
      ids.filter((h) => gw.store.indexOf(Buffer.from(h, 'hex')) < 0).map((h) => `${name}:${h.slice(0, 8)}`),
    );
    cfg.log(`soak: lost at the gateway: ${lostIds.join(' ')}; device rings lost own ${devices.map((d) => d.dev.ring.lostOwn).join('/')}, refused commits ${devices.map((d) => d.dev.stats.commitsRefused).join('/')}`);
    cfg.log(`soak: serial pair: gateway→agent ${describeSession(gw.engine, agents[0]!.engine.peerId)}`);
    cfg.log(`soak: serial pair: agent→gateway ${describeSession(agents[0]!.engine, gw.engine.peerId)}`);
    for (const { dev } of devices) {
      const lacking = deviceAcked.filter((h) => gw.store.indexOf(Buffer.from(h, 'hex')) < 0 && dev.ring.has(Buffer.from(h, 'hex'))).length;
      cfg.log(`soak: device ${dev.peerId}: state ${dev.state}, ring ${dev.ring.count}, in ring but not at gateway ${lacking}, stats ${JSON.stringify(dev.stats)}; gateway session: ${describeSession(gw.engine, dev.peerId)}`);
    }
  }
  const q = Math.max(1, Math.floor(rss.length / 4));
  const growth = rss.length >= 4 ? median(rss.slice(-q)) - median(rss.slice(q, 2 * q)) : 0;
  const step = Math.max(1, Math.floor(rss.length / 12));
  const figures: Figures = {
    seconds,
    mode: 'in-process engines (one process), Mosquitto as a child process',
    commands,
    engine_commands: commands,
    device_commands: deviceCommits,
    converged,
    settle_ms: settleMs,
    graph_size: gw.store.size,
    lost,
    lost_by_peer: missingBy,
    crashes: crashes + broker.unexpectedExits,
    crash_samples: crashLog.join(' | ').slice(0, 600),
    broker_kills: broker.kills,
    broker_session_losing_restarts: orderedRestarts,
    mqtt_relink_after_session_loss_ms_max: relinkMs.length > 0 ? Math.max(...relinkMs) : null,
    mqtt_relink_after_session_loss_failures: relinkFailures,
    broker_unexpected_exits: broker.unexpectedExits,
    tcp_resets: proxy.resets,
    uart_unplugs: unplugs,
    uart_stats: Object.fromEntries(uarts.flatMap((u, i) => { const s = u.stats(); return Object.entries(s.aToB).map(([k, v]) => [`uart${i}_${k}`, (v as number) + ((s.bToA as unknown as Record<string, number>)[k] ?? 0)]); })),
    device_bad_frames: devices.reduce((a, d) => a + d.dev.stats.badFrames, 0),
    device_commits_refused: devices.reduce((a, d) => a + d.dev.stats.commitsRefused, 0),
    transport_warnings: warns,
    rss_start_mb: round(rss[0] ?? 0),
    rss_end_mb: round(rss.at(-1) ?? 0),
    rss_growth_mb: round(growth),
    rss_series_mb: rss.filter((_x, i) => i % step === 0).map((x) => round(x, 1)),
  };
  // Teardown.
  for (const d of devices) {
    d.att.detach();
    if (d.port.isOpen) await new Promise<void>((r) => d.port.close(() => r()));
  }
  for (const n of all) await Promise.allSettled(n.transports.map((t) => t.close()));
  await proxy.close();
  await mqttGate.close();
  for (const n of all) {
    await n.engine.close();
    await n.store.close();
  }
  for (const u of uarts) u.dispose();
  broker.kill();
  rmSync(dir, { recursive: true, force: true });
  await sleep(200);
  process.off('uncaughtException', onCrash);
  process.off('unhandledRejection', onCrash);
  cfg.log(`soak: ${JSON.stringify(figures)}`);
  return figures;
}

/**
 * The demo's live output: one readable line per event, derived from engine events (`commands`
 * with the peer they came from, `peer-up`) and the simulated device's events.
 */
import { decodeCbor } from '../../protocol/cbor.js';
import type { SimDevice } from '../../firmware-sim/device/index.js';
import type { DemoNode } from './demo-node.js';

const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;

/** Prints live lines (unless quiet) and knows every peer's name. */
export class DemoFeed {
  private readonly names = new Map<string, string>();
  /** Device receipts are counted per tick and printed as one line. */
  private deviceReceived = 0;
  private deviceFlush: NodeJS.Immediate | null = null;

  constructor(
    private readonly print: (line: string) => void,
    private quiet: boolean,
  ) {}

  /** Print nothing more (the final line must stay last). */
  mute(): void {
    this.quiet = true;
  }

  /** Name of a peer id (the id itself for strangers). */
  nameOf(peerId: string): string {
    return this.names.get(peerId) ?? peerId;
  }

  /** A line unless quiet. */
  line(who: string, text: string): void {
    if (!this.quiet) this.print(`[${who}] ${text}`);
  }

  /** Hook an engine's events. */
  addNode(node: DemoNode): void {
    this.names.set(node.peerId, node.name);
    node.engine.on('peer-up', (peer) => {
      const link = node.engine.snapshot().peers.find((p) => p.id === peer)?.link ?? '?';
      this.line(node.name, `link up ⇄ ${this.nameOf(peer)} over ${link}`);
    });
    node.engine.on('peer-down', (peer) => this.line(node.name, `link down ⇄ ${this.nameOf(peer)}`));
    node.engine.on('commands', (handles, from, how) => {
      if (how === 'commit') return;
      const n = plural(handles.length, 'command');
      if (how === 'push') this.line(this.nameOf(from), `pushed ${n} → ${node.name}   (${node.name} holds ${node.store.size})`);
      else {
        const hint = node.pollHintFrom(from);
        this.line(node.name, `polled ${n} ← ${this.nameOf(from)}   (holds ${node.store.size}${hint !== undefined ? `; next poll hint ${hint} ms` : ''})`);
      }
    });
  }

  /** Hook the simulated device's events. */
  addDevice(device: SimDevice, name: string, peerName: string): void {
    this.names.set(device.peerId, name);
    device.on('ready', () => this.line(name, `link up ⇄ ${peerName} (firmware-sim, ring of ${device.ring.capacity} commands)`));
    device.on('commit', (cmd) => {
      let text = `${cmd.payload.length} bytes`;
      try {
        const v = decodeCbor(cmd.payload) as unknown[];
        text = `#${String(v[1])} reading ${String(v[2])}`;
      } catch {
        /* not telemetry */
      }
      this.line(name, `telemetry ${text}`);
    });
    device.on('command', () => {
      this.deviceReceived++;
      this.deviceFlush ??= setImmediate(() => {
        this.deviceFlush = null;
        this.line(name, `received ${plural(this.deviceReceived, 'command')} ← ${peerName}   (ring holds ${device.ring.count}/${device.ring.capacity})`);
        this.deviceReceived = 0;
      });
    });
    device.on('order', (payload) => {
      let text = '';
      try {
        text = JSON.stringify((decodeCbor(payload) as unknown[]).slice(1));
      } catch {
        /* shown empty */
      }
      this.line(name, `order for me: ${text}`);
    });
    device.on('rejected', (reason, detail) => this.line(name, `rejected a command: ${reason} (${detail})`));
  }

  /** Cancel pending output. */
  stop(): void {
    if (this.deviceFlush) clearImmediate(this.deviceFlush);
    this.deviceFlush = null;
  }
}

/**
 * The v2 demo's live output: one readable line per event, each naming the scope it is in —
 * links up and down, commands an engine received (batched per turn, per scope and sender), and
 * the v2 device's scopes becoming active, its telemetry, orders and received commands.
 */
import { decodeCbor } from '../../protocol/cbor.js';
import type { DemoDeviceV2, DemoEngineV2 } from './demo-v2-world.js';

const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;

/** The CBOR array `payload` without its first element (the addressee), as JSON; '' when not one. */
function tail(payload: Uint8Array): string {
  try {
    const v = decodeCbor(payload);
    return Array.isArray(v) ? JSON.stringify(v.slice(1)) : JSON.stringify(v);
  } catch {
    return `${payload.length} bytes`;
  }
}

/** Prints live lines (unless quiet) and knows every peer's name. */
export class DemoFeedV2 {
  private readonly names = new Map<string, string>();
  /** Received commands counted per turn: key `who|scope|from`. */
  private readonly pending = new Map<string, number>();
  private flush: NodeJS.Immediate | null = null;

  constructor(
    private readonly print: (line: string) => void,
    private quiet: boolean,
  ) {}

  /** Print nothing more (the final lines must stay last). */
  mute(): void {
    this.quiet = true;
  }

  /** Name of a peer id (the id itself for strangers). */
  nameOf(peerId: string): string {
    return this.names.get(peerId) ?? peerId;
  }

  /** `scope` with the device name of a device scope: `device/1a2b… (device-1)`. */
  scopeLabel(scope: string): string {
    const id = scope.startsWith('device/') ? scope.slice('device/'.length) : undefined;
    return id !== undefined && this.names.has(id) ? `${scope} (${this.names.get(id)!})` : scope;
  }

  /** A line unless quiet. */
  line(who: string, text: string): void {
    if (!this.quiet) this.print(`[${who}] ${text}`);
  }

  /** Hook an engine's events. */
  addEngine(e: DemoEngineV2): void {
    this.names.set(e.engine.peerId, e.name);
    e.engine.on('peer-up', (peer) => this.line(e.name, `link up ⇄ ${this.nameOf(peer)}`));
    e.engine.on('peer-down', (peer) => this.line(e.name, `link down ⇄ ${this.nameOf(peer)}`));
    e.engine.on('appended', ({ scope, from }) => {
      if (from === 'local') return;
      const key = `${e.name}|${scope}|${from}`;
      this.pending.set(key, (this.pending.get(key) ?? 0) + 1);
      this.flush ??= setImmediate(() => this.flushPending());
    });
  }

  /** Hook a device's events. */
  addDevice(d: DemoDeviceV2): void {
    const { name, device } = d;
    this.names.set(device.peerId, name);
    device.on('ready', () => this.line(name, 'link up ⇄ gateway (firmware-sim v2)'));
    device.on('down', () => this.line(name, 'link down'));
    device.on('active', (scope) => this.line(name, `scope ${this.scopeLabel(scope)} active`));
    device.on('commit', (scope, cmd) => this.line(name, `telemetry ${tail(cmd.payload)} in ${this.scopeLabel(scope)}`));
    device.on('order', (payload, cmd) => this.line(name, `order for me: ${tail(payload)} (${Buffer.from(cmd.id).toString('hex').slice(0, 8)})`));
    device.on('command', (scope) => {
      if (!scope.startsWith('device/')) this.line(name, `received 1 command in ${scope}`);
    });
    device.on('rejected', (scope, reason, detail) => this.line(name, `rejected a command in ${scope}: ${reason} (${detail})`));
  }

  private flushPending(): void {
    this.flush = null;
    for (const [key, n] of this.pending) {
      const [who, scope, from] = key.split('|') as [string, string, string];
      this.line(who, `received ${plural(n, 'command')} in ${this.scopeLabel(scope)} ← ${this.nameOf(from)}`);
    }
    this.pending.clear();
  }

  /** Cancel pending output. */
  stop(): void {
    if (this.flush) clearImmediate(this.flush);
    this.flush = null;
  }
}

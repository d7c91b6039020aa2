/**
 * A scripted gateway for the v2 device tests, on protocol/ alone: a manual clock (the device's
 * injected scheduler), the v2 handshake (unsealed, or sealed with both sides' policy `prefer`),
 * a device scope genesis (gateway `rwa`, device `rw`) and an open-read fleet scope, the table
 * exchange, and raw access to every message the device sends (`wire` keeps every body as it
 * crossed the link; `bodies` the ones not yet taken, opened when sealed).
 */
import { randomBytes } from 'node:crypto';
import type { ArqScheduler } from '../protocol/arq/driver.js';
import { encodeCommandV2, type CommandV2 } from '../protocol/command-v2.js';
import { Capability } from '../protocol/constants.js';
import { CommandKind, GENESIS_OPEN_READ, type CommandKindValue } from '../protocol/constants-v2.js';
import { decodeMessageV2, encodeMessageV2 } from '../protocol/envelope-v2.js';
import { encodeGenesisBody, type Member } from '../protocol/genesis.js';
import { generateIdentity, toHex, type Identity } from '../protocol/keys.js';
import type { MessageV2 } from '../protocol/messages-v2.js';
import { Opener, Sealer, authTranscriptV2, deriveSealKeys, ephemeralFromSecret, isSealed } from '../protocol/seal.js';
import { SimDeviceV2, type DeviceV2Options } from '../firmware-sim/device-v2/index.js';

/** A manual clock: timers run only when the test advances time. */
export class Clock implements ArqScheduler {
  t = 0;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 0;
  now(): number {
    return this.t;
  }
  setTimer(fn: () => void, ms: number): () => void {
    const id = this.nextId++;
    this.timers.push({ at: this.t + ms, fn, id });
    return () => {
      this.timers = this.timers.filter((x) => x.id !== id);
    };
  }
  /** Run every timer due within `ms`, in time order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const next = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (next === undefined) break;
      this.timers = this.timers.filter((x) => x !== next);
      this.t = next.at;
      next.fn();
    }
    this.t = end;
  }
}

type Of<T extends MessageV2['type']> = Extract<MessageV2, { type: T }>;

/** One scope the gateway holds: its id, name and commands in append order. */
export interface GwScope { id: Uint8Array; name: string; commands: CommandV2[] }

/** The scripted gateway and its device. */
export class Gateway {
  readonly identity: Identity = generateIdentity();
  readonly clock = new Clock();
  readonly device: SimDeviceV2;
  /** Bodies the device sent, not yet taken (plaintext: sealed ones are opened on arrival). */
  readonly bodies: Uint8Array[] = [];
  /** Every body the device sent on the current link, exactly as sent. */
  readonly wire: Uint8Array[] = [];
  /** `wire.length` when the last handshake completed. */
  upAt = 0;
  private sealer: Sealer | null = null;
  private opener: Opener | null = null;
  closed = 0;
  private seq = 0;
  /** When false, the device's bodies are lost (counted in `lost`). */
  deliver = true;
  lost = 0;

  constructor(options: DeviceV2Options = {}) {
    this.device = new SimDeviceV2({ trustedKeys: [this.identity.publicKey], scheduler: this.clock, ...options });
  }

  /** Connect the device to this gateway's link (a fresh, unsealed one). */
  connect(): void {
    this.sealer = this.opener = null;
    this.wire.length = 0;
    this.device.connect({
      send: (b) => {
        this.wire.push(Uint8Array.from(b));
        if (!this.deliver) return void this.lost++;
        // A sealed body that does not open (or replays) stays as it came: decoding it then fails the test.
        this.bodies.push(this.opener !== null && isSealed(b) ? (this.opener.open(b) ?? Uint8Array.from(b)) : Uint8Array.from(b));
      },
      close: () => this.closed++,
    });
  }

  /** Whether the link is sealed. */
  get sealed(): boolean {
    return this.sealer !== null;
  }

  /** Send a message to the device (sealed on a sealed link). */
  send(msg: MessageV2): void {
    this.sendBody(encodeMessageV2(msg));
  }

  /** Send one message body to the device (sealed on a sealed link). */
  sendBody(body: Uint8Array): void {
    this.device.onBody(this.seal(body));
  }

  /** `body` as the gateway would put it on the link now (sealed with the next sequence number on a sealed link). */
  seal(body: Uint8Array): Uint8Array {
    return this.sealer !== null ? this.sealer.seal(body) : body;
  }

  /** Every message the device sent so far (taken). */
  drain(): MessageV2[] {
    return this.bodies.splice(0).map((b) => decodeMessageV2(b));
  }

  /** Take the messages of `type` sent so far (others stay). */
  take<T extends MessageV2['type']>(type: T): Of<T>[] {
    const out: Of<T>[] = [];
    for (let i = 0; i < this.bodies.length; ) {
      const m = decodeMessageV2(this.bodies[i]!);
      if (m.type === type) {
        out.push(m as Of<T>);
        this.bodies.splice(i, 1);
      } else i++;
    }
    return out;
  }

  /**
   * Connect and complete the v2 handshake. Unsealed unless `seal`: then the gateway offers `Seal`
   * (its policy `prefer` against a device that offers it too), and every later message both ways
   * is sealed with the derived keys.
   */
  handshake(caps = Capability.Push | Capability.BareCommand, seal = false): void {
    this.connect();
    const helloBody = this.bodies.shift()!;
    const eph = ephemeralFromSecret(randomBytes(32));
    const own = encodeMessageV2({
      type: 'Hello', version: 2, public_key: this.identity.publicKey, max_frame: 4096, caps: seal ? caps | Capability.Seal : caps,
      nonce: new Uint8Array(16).fill(7), ephemeral: eph.publicKey,
    });
    if (seal) {
      const hello = decodeMessageV2(helloBody);
      if (hello.type !== 'Hello' || hello.ephemeral === undefined) throw new Error('device Hello without ephemeral');
      const keys = deriveSealKeys(own, helloBody, eph.secret, hello.ephemeral);
      this.sealer = new Sealer(keys.send);
      this.opener = new Opener(keys.receive);
    }
    this.device.onBody(own);
    this.device.onBody(encodeMessageV2({ type: 'Auth', signature: this.identity.sign(authTranscriptV2(helloBody, own)) }));
    // The device's Hello repeat and Auth; what it sent once up (a `Scopes` for scopes it holds) stays.
    this.take('Hello');
    this.take('Auth');
    this.upAt = this.wire.length;
  }

  /**
   * Handshake, open `scopes` as gateway numbers 0.. and acknowledge the device's `Scopes`.
   * Returns the device's number of each scope (what the gateway's scoped messages carry).
   */
  linked(scopes: GwScope[], seal = false): Map<GwScope, number> {
    this.handshake(undefined, seal);
    this.open(0, scopes.map((s, i) => [i, s]));
    const [ack] = this.take('ScopesAck');
    const [sc] = this.take('Scopes');
    if (ack === undefined || sc === undefined) throw new Error('no table exchange');
    const mine = new Map<GwScope, number>();
    for (const [n, id] of sc.open) mine.set(scopes.find((s) => toHex(s.id) === toHex(id))!, n);
    this.send({ type: 'ScopesAck', seq: sc.seq, refused: [] });
    return mine;
  }

  /** A genesis signed by the gateway. */
  genesis(name: string, members: Member[], flags = 0): GwScope {
    const payload = encodeGenesisBody({ format: 1, name, nonce: new Uint8Array(16).fill(this.seq), flags, members, retention: { maxCommands: 1024, maxBytes: 0, maxAgeS: 0 } });
    const g = encodeCommandV2(null, { parents: [], author: this.identity.author, seq: 0, kind: CommandKind.Genesis, payload }, this.identity.sign);
    return { id: g.id, name, commands: [g] };
  }

  /** The device scope: gateway rwa, device rw. */
  deviceScope(): GwScope {
    return this.genesis(`device/${this.device.peerId}`, [
      { publicKey: this.identity.publicKey, roles: 7 },
      { publicKey: this.device.identity.publicKey, roles: 3 },
    ]);
  }

  /** An open-read fleet scope: gateway rwa, plus `extra` members. */
  fleetScope(name = 'fleet/acme', extra: Member[] = []): GwScope {
    return this.genesis(name, [{ publicKey: this.identity.publicKey, roles: 7 }, ...extra], GENESIS_OPEN_READ);
  }

  /** Append a command to `scope` on its newest command, authored by `by` (default the gateway). */
  append(scope: GwScope, payload: Uint8Array, by: Identity = this.identity, kind: CommandKindValue = CommandKind.Data): CommandV2 {
    const head = scope.commands[scope.commands.length - 1]!;
    const c = encodeCommandV2(scope.id, { parents: [head.id], author: by.author, seq: ++this.seq, kind, payload }, by.sign);
    scope.commands.push(c);
    return c;
  }

  /** Send `Scopes` seq `seq` opening `entries` ([number, scope]). */
  open(seq: number, entries: [number, GwScope][]): void {
    this.send({ type: 'Scopes', seq, open: entries.map(([n, s]) => [n, s.id, s.name]), close: [] });
  }

  /** Answer the device's poll `req` for `scope` with every command it does not name. */
  answer(req: Of<'PollRequest'>, scope: GwScope, gwNumberOfDevice: number): void {
    const named = [...req.heads, ...req.sample].map((x) => Buffer.from(x).toString('hex'));
    const items = scope.commands.filter((c) => !named.includes(Buffer.from(c.id).toString('hex'))).map((c) => c.bytes);
    this.send({ type: 'PollResponse', scope: gwNumberOfDevice, session: req.session, more: false, gap: false, total: scope.commands.length, next_poll_ms: 1000, heads: [scope.commands[scope.commands.length - 1]!.id], items });
  }
}

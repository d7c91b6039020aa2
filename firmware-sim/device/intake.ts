/**
 * What the simulated device does with commands it receives (pushes and poll responses): decode,
 * drop what it already holds, verify the signature with the author's known key (commands of
 * unknown authors are refused), keep the rest in the ring — which makes the newest one the head —
 * and recognise orders addressed to it: a payload that is a CBOR array whose first element is
 * the device's peer id.
 */
import {
  compareBytes, decodeCbor, decodeCommand, signedBytesOf, toHex, verifySignature,
  type Command, type Identity,
} from '../../protocol/index.js';
import type { DeviceKeyTable } from './keys.js';
import type { CommandRing } from './ring.js';
import type { DeviceStats, RejectReason } from './types.js';

/** Where the intake reports what it did. */
export interface IntakeEvents {
  /** Stored. */
  command(cmd: Command): void;
  /** Stored, and addressed to this device. */
  order(payload: Uint8Array, cmd: Command): void;
  /** Refused. */
  rejected(reason: RejectReason, detail: string): void;
}

/** Verifies and stores received commands. */
export class DeviceIntake {
  constructor(
    private readonly ring: CommandRing,
    private readonly keys: DeviceKeyTable,
    private readonly identity: Identity,
    private readonly stats: DeviceStats,
    private readonly events: IntakeEvents,
  ) {}

  /**
   * Take in received command encodings, in order. Never throws.
   * @returns true when a pushed command named parents of which the ring holds none: the push
   * stream lost something, and a poll should repair it.
   */
  ingest(commands: readonly Uint8Array[], pushed: boolean): boolean {
    let gap = false;
    for (const bytes of commands) {
      let cmd: Command;
      try {
        cmd = decodeCommand(bytes);
      } catch (err) {
        this.reject('malformed', (err as Error).message);
        continue;
      }
      if (this.ring.has(cmd.id)) {
        this.stats.duplicates++;
        continue;
      }
      const own = compareBytes(cmd.author, this.identity.author) === 0;
      const key = own ? this.identity.publicKey : this.keys.keyOf(cmd.author);
      if (key === null) {
        this.reject('unknown-author', `author ${toHex(cmd.author)} is not known`);
        continue;
      }
      if (!verifySignature(key, signedBytesOf(cmd.bytes), cmd.signature)) {
        this.reject('bad-signature', `command ${toHex(cmd.id)} of ${toHex(cmd.author)} does not verify`);
        continue;
      }
      if (pushed && cmd.parents.length > 0 && !cmd.parents.some((p) => this.ring.has(p))) gap = true;
      // The sender holds what it built on: own commands among the parents are synced (marked
      // first, so a ring full of unsynced own commands can take this one).
      this.ring.markHeldWithAncestors(cmd.parents);
      this.ring.push(cmd.id, cmd.bytes, false);
      this.stats.commandsReceived++;
      this.events.command(cmd);
      // Our own commands coming back carry our peer id too (telemetry): they are not orders.
      if (!own && this.isOrder(cmd.payload)) {
        this.stats.orders++;
        this.events.order(cmd.payload, cmd);
      }
    }
    return gap;
  }

  private isOrder(payload: Uint8Array): boolean {
    try {
      const v = decodeCbor(payload);
      return Array.isArray(v) && v[0] === this.identity.peerId;
    } catch {
      return false;
    }
  }

  private reject(reason: RejectReason, detail: string): void {
    this.stats.rejectedCommands++;
    this.events.rejected(reason, detail);
  }
}

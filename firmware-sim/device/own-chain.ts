/**
 * The device's own commands: each one's parent is the newest command in the ring (own or
 * received) and its `seq` the next of the device's, so own commands form a chain, and an uplink
 * naming the newest one it holds tells the device it holds every earlier one too.
 */
import { encodeCommand, type Command, type Identity } from '../../protocol/index.js';
import { DeviceRingFullError, type CommandRing } from './ring.js';
import type { DeviceStats } from './types.js';

/** Signs and stores the device's own commands. */
export class OwnChain {
  private seq = 0;

  constructor(
    private readonly ring: CommandRing,
    private readonly identity: Identity,
    private readonly stats: Pick<DeviceStats, 'commits' | 'commitsRefused'>,
  ) {}

  /**
   * Sign `payload` (copied) as the next own command and store it in the ring.
   * @throws DeviceRingFullError when every ring slot holds an own command no peer holds yet.
   * @throws TooLargeError when the command would exceed MAX_COMMAND_BYTES.
   */
  commit(payload: Uint8Array): Command {
    if (this.ring.fullOfUnsynced) {
      this.stats.commitsRefused++;
      throw new DeviceRingFullError(this.ring.capacity);
    }
    const head = this.ring.newestId();
    const cmd = encodeCommand(
      { parents: head === null ? [] : [head], author: this.identity.author, seq: (this.seq + 1) >>> 0, payload: Uint8Array.from(payload) },
      this.identity.sign,
    );
    this.seq = cmd.seq;
    this.ring.push(cmd.id, cmd.bytes);
    this.stats.commits++;
    return cmd;
  }
}

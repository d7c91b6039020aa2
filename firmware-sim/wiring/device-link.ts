/**
 * The message-level seam of the simulated device. The device sends and receives frame
 * **bodies** (one protocol message each, sealed or not) and never sees framing: whatever carries
 * them — `attachDeviceToSerialPort` (serial-wiring.ts: COBS/CRC and the serial ARQ), or a
 * test joining two devices directly — implements {@link DeviceLink} and drives a
 * {@link DeviceEnd}. The agent's `Link` (agent/link.ts) is the same seam on the agent's side.
 *
 * ```ts
 * // Two devices on a perfect line: each body is delivered on a later turn, as a wire would.
 * a.connect({ send: (body) => setImmediate(() => b.onBody(body)) });
 * b.connect({ send: (body) => setImmediate(() => a.onBody(body)) });
 * ```
 */

/** What carries one device's frame bodies to its peer while the link is open. */
export interface DeviceLink {
  /**
   * Send one frame body. Never throws: a carrier whose line failed drops the body (the sync
   * protocol repairs what a link lost) and its owner calls {@link DeviceEnd.disconnect}.
   */
  send(body: Uint8Array): void;
}

/** The device's side of the seam: what a carrier drives (a `SimDevice` is one). */
export interface DeviceEnd {
  /** Largest frame body the device takes, bytes: carriers size their decoders to it. */
  readonly maxFrame: number;
  /** The link opened: the session starts over and the device's `Hello` goes out through `link`. */
  connect(link: DeviceLink): void;
  /** The link closed: the session is forgotten (a sealed one sends its close marker first). Idempotent. */
  disconnect(): void;
  /**
   * One received frame body, exactly as the peer sent it. Never throws. A body over
   * {@link maxFrame} is dropped and counted as a bad frame, as a frame decoder would.
   */
  onBody(body: Uint8Array): void;
  /** A frame was lost below the device (bad COBS, CRC, size): counted as a bad frame. */
  linkError(err: Error): void;
}

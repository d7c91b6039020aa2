/** Counters of an ARQ endpoint, shared by its sender and receiver. */
export interface ArqStats {
  /** Chunks sent for the first time. */
  sent: number;
  /** Chunk retransmissions. */
  resent: number;
  /** Distinct chunks received (accepted into the window). */
  received: number;
  /** Chunks received again (already had them). */
  duplicates: number;
  /** ACK frames sent. */
  acksSent: number;
  /** RST frames sent. */
  rstsSent: number;
  /** Stream restarts after a peer reset (new epoch). */
  restarts: number;
  /** Frames dropped as malformed, out of window, for an unknown epoch, or oversized messages. */
  bad: number;
  /** Messages delivered. */
  delivered: number;
  /** Current chunk size. */
  chunkSize: number;
  /** Smoothed RTT, ms (0 before the first sample). */
  srtt: number;
  /** Current base RTO, ms. */
  rto: number;
}

/** All counters at zero (the sender fills in chunkSize, srtt and rto). */
export function zeroStats(): ArqStats {
  return { sent: 0, resent: 0, received: 0, duplicates: 0, acksSent: 0, rstsSent: 0, restarts: 0, bad: 0, delivered: 0, chunkSize: 0, srtt: 0, rto: 0 };
}

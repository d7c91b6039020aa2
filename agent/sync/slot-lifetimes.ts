/**
 * When each subscription slot ends: its close time (the granted `remain_open`) and, while its
 * link is closed, when the link closed (a suspended subscription, PROTOCOL.md §9.3). Arrays
 * allocated once; the subscription table asks which slots are over and which to evict first.
 */

/**
 * How long a subscription whose link closed is kept for the same peer's next link (PROTOCOL.md
 * §9.3). A slow line that flaps every few seconds keeps its pushes; a table of closed links
 * never keeps a new peer out (suspended slots are freed first).
 */
export const SUSPEND_MS = 60_000;

/** Close and suspension times by slot. */
export class SlotLifetimes {
  /** Absolute close time (ms of the injected clock). */
  private readonly closeAt: Float64Array;
  /** When the slot's link closed, 0 while it has one. */
  private readonly linklessSince: Float64Array;

  constructor(capacity: number) {
    this.closeAt = new Float64Array(capacity);
    this.linklessSince = new Float64Array(capacity);
  }

  /** A (re)granted subscription: closes at `closeAt`, not suspended. */
  grant(slot: number, closeAt: number): void {
    this.closeAt[slot] = closeAt;
    this.linklessSince[slot] = 0;
  }

  /** Close time of `slot`. */
  closeAtOf(slot: number): number {
    return this.closeAt[slot]!;
  }

  /** The link of `slot` closed at `now` (0 is taken as 1: 0 means "has a link"). */
  suspend(slot: number, now: number): void {
    this.linklessSince[slot] = Math.max(1, now);
  }

  /** `slot` has a link again. */
  resume(slot: number): void {
    this.linklessSince[slot] = 0;
  }

  /** Whether `slot` is over at `now`: expired, or suspended for {@link SUSPEND_MS}. */
  over(slot: number, now: number): boolean {
    const linkless = this.linklessSince[slot]!;
    return this.closeAt[slot]! <= now || (linkless > 0 && linkless + SUSPEND_MS <= now);
  }

  /** Of the slots `used(i)` says are in use, the suspended one whose link closed first, or -1. */
  firstSuspended(capacity: number, used: (slot: number) => boolean): number {
    let best = -1;
    for (let i = 0; i < capacity; i++) {
      const t = this.linklessSince[i]!;
      if (used(i) && t > 0 && (best < 0 || t < this.linklessSince[best]!)) best = i;
    }
    return best;
  }
}

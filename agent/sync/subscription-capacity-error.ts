/** Thrown at start-up for a subscription table capacity that is not a power of two (or out of range). */
export class SubscriptionCapacityError extends Error {
  readonly reason = 'BadCapacity';
  constructor(capacity: number) {
    super(`subscription capacity must be a power of two between 1 and 65536, got ${capacity}`);
    this.name = 'SubscriptionCapacityError';
  }
}

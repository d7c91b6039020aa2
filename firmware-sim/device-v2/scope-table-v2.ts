/**
 * The device's scope table on its one uplink (design v2-scopes §3.3, §7 item 2): at most
 * {@link MAX_DEVICE_SCOPES} entries each way. `mine` are the entries the device opened (numbers
 * from 0 upward, never reused on the link; `queued` until sent, then `pending`, then `open` or
 * `refused`; a closed entry leaves the table at once, rule 5); `theirs` the peer's accepted
 * entries. `Scopes` are stop-and-wait: one outstanding, the same message resent after 500 ms,
 * doubling up to 8 s, and the link closed after 60 s without its `ScopesAck`. Which scopes to
 * accept is the host's decision ({@link ScopeTableHost.admit}); the table applies the order of
 * receiver rule 3 around it. Timers come from the injected scheduler.
 */
import type { ArqScheduler } from '../../protocol/arq/driver.js';
import { equalBytes } from '../../protocol/bytes.js';
import { MAX_SCOPE_NUMBER, MAX_SCOPES_CLOSE, MAX_SCOPES_OPEN } from '../../protocol/constants-v2.js';
import { ReasonCode } from '../../protocol/errors.js';
import type { MessageV2, Scopes, ScopesAck } from '../../protocol/messages-v2.js';
import { MAX_DEVICE_SCOPES, type DeviceV2Stats } from './types-v2.js';

/** First retransmission delay of an unacknowledged `Scopes`, ms (§3.3 sender rule 3). */
export const SCOPES_RETRY_MS = 500;
/** Longest retransmission delay, ms. */
export const SCOPES_RETRY_CAP_MS = 8000;
/** A `Scopes` unacknowledged this long closes the link, ms. */
export const SCOPES_GIVE_UP_MS = 60_000;

/** State of one of the device's own entries. */
export type EntryState = 'queued' | 'pending' | 'open' | 'refused';

interface Mine { number: number; slot: number; id: Uint8Array; name: string; state: EntryState }

/** What the table needs from the device. */
export interface ScopeTableHost {
  send(msg: MessageV2): void;
  /** A `Scopes` went unacknowledged for 60 s. */
  giveUp(): void;
  /** The peer's open entry for a scope: the local slot that takes it, or the reason code to refuse it with. */
  admit(id: Uint8Array, name: string): { slot: number } | { refuse: number };
  /** The peer closed its entry for the scope in `slot` (null: one the device no longer holds). */
  peerClosed(slot: number | null): void;
  /** The scope in `slot` became active (both entries open). */
  activated(slot: number): void;
}

/** One link's scope table, both directions. */
export class ScopeTableV2 {
  private mine: Mine[] = [];
  private theirs: { id: Uint8Array; number: number }[] = [];
  private closes: number[] = [];
  private nextNumber = 0;
  private seq = 0;
  private expected = 0;
  private lastAck: ScopesAck | null = null;
  private outstanding: { msg: Scopes; numbers: number[]; since: number; delay: number } | null = null;
  private cancel: (() => void) | null = null;
  /** Within {@link batch}: opens wait so that one `Scopes` carries them all. */
  private batching = false;
  /** Bit n: the peer used number n on this link (receiver rule 3: never twice). */
  private readonly peerUsed = new Uint8Array((MAX_SCOPE_NUMBER + 1) >>> 3);

  constructor(
    private readonly host: ScopeTableHost,
    private readonly scheduler: ArqScheduler,
    private readonly stats: DeviceV2Stats,
  ) {}

  /** A new link (or none): empty tables, `seq` 0 both ways. */
  reset(): void {
    this.cancel?.();
    this.cancel = null;
    this.mine = [];
    this.theirs = [];
    this.closes = [];
    this.nextNumber = this.seq = this.expected = 0;
    this.lastAck = this.outstanding = null;
    this.peerUsed.fill(0);
  }

  /** Run `fn` (a series of opens and closes), then send them in one `Scopes` where possible. */
  batch(fn: () => void): void {
    this.batching = true;
    try {
      fn();
    } finally {
      this.batching = false;
    }
    this.flush();
  }

  /** Open the scope in `slot` toward the peer (no-op while an entry of it is live). */
  open(slot: number, id: Uint8Array, name: string): void {
    const m = this.mine.find((e) => e.slot === slot);
    if (m !== undefined && m.state !== 'refused') return;
    if (m !== undefined) this.mine.splice(this.mine.indexOf(m), 1);
    if (this.mine.length >= MAX_DEVICE_SCOPES || this.nextNumber > MAX_SCOPE_NUMBER) return;
    this.mine.push({ number: this.nextNumber++, slot, id: Uint8Array.from(id), name, state: 'queued' });
    this.flush();
  }

  /** Close the device's entry for `slot`: inactive at once (rule 5); the peer hears it next `Scopes`. */
  close(slot: number): void {
    const i = this.mine.findIndex((e) => e.slot === slot);
    if (i < 0) return;
    const [m] = this.mine.splice(i, 1);
    if (m!.state !== 'queued') this.closes.push(m!.number);
    this.flush();
  }

  /** The slot a scoped message's number names: the device's entry, `open` or `pending` (rule 5). */
  slotOf(number: number): number | null {
    const m = this.mine.find((e) => e.number === number && (e.state === 'open' || e.state === 'pending'));
    return m === undefined ? null : m.slot;
  }

  /**
   * The peer's number for the scope in `slot` (the number to send with) while it is active, else
   * null; `pending`: also while the device's own entry awaits its `ScopesAck` (to answer, rule 5).
   */
  peerNumber(slot: number, pending = false): number | null {
    const m = this.mine.find((e) => e.slot === slot && (e.state === 'open' || (pending && e.state === 'pending')));
    if (m === undefined) return null;
    return this.theirs.find((e) => equalBytes(e.id, m.id))?.number ?? null;
  }

  /** Whether the scope in `slot` is active. */
  isActive(slot: number): boolean {
    return this.peerNumber(slot) !== null;
  }

  /** The peer's `Scopes` (receiver rules 1–3). */
  onScopes(msg: Scopes): void {
    if (msg.seq === this.expected - 1 && this.lastAck !== null) return this.host.send(this.lastAck);
    if (msg.seq !== this.expected) {
      this.stats.scopesDropped++;
      return;
    }
    for (const n of msg.close) {
      const i = this.theirs.findIndex((e) => e.number === n);
      if (i < 0) continue;
      const [gone] = this.theirs.splice(i, 1);
      this.host.peerClosed(this.mine.find((e) => equalBytes(e.id, gone!.id))?.slot ?? null);
    }
    const refused: [number, number][] = [];
    const toActivate: number[] = [];
    const toOpen: [number, Uint8Array, string][] = [];
    for (const [n, id, name] of msg.open) {
      const used = (this.peerUsed[n >>> 3]! >>> (n & 7)) & 1;
      this.peerUsed[n >>> 3]! |= 1 << (n & 7);
      if (used === 1 || this.theirs.some((e) => equalBytes(e.id, id))) refused.push([n, ReasonCode.Malformed]);
      else if (this.theirs.length >= MAX_DEVICE_SCOPES) refused.push([n, ReasonCode.TooManyScopes]);
      else {
        const verdict = this.host.admit(id, name);
        if ('refuse' in verdict) refused.push([n, verdict.refuse]);
        else {
          this.theirs.push({ id: Uint8Array.from(id), number: n });
          const m = this.mine.find((e) => e.slot === verdict.slot);
          if (m?.state === 'open') toActivate.push(verdict.slot);
          else if (m === undefined || m.state === 'refused') toOpen.push([verdict.slot, id, name]);
        }
      }
    }
    this.lastAck = { type: 'ScopesAck', seq: msg.seq, refused };
    this.expected++;
    this.host.send(this.lastAck);
    for (const s of toActivate) this.host.activated(s);
    // Sender rule 1: a scope joined (or whose own entry was refused) is opened back.
    this.batch(() => {
      for (const [slot, id, name] of toOpen) this.open(slot, id, name);
    });
  }

  /** The peer's `ScopesAck` (sender rule 4). */
  onScopesAck(ack: ScopesAck): void {
    const out = this.outstanding;
    if (out === null || ack.seq !== out.msg.seq) {
      this.stats.scopesDropped++;
      return;
    }
    this.cancel?.();
    this.cancel = null;
    this.outstanding = null;
    const activated: number[] = [];
    for (const n of out.numbers) {
      const m = this.mine.find((e) => e.number === n);
      if (m === undefined) continue; // closed meanwhile
      m.state = ack.refused.some(([r]) => r === n) ? 'refused' : 'open';
      if (m.state === 'open' && this.theirs.some((e) => equalBytes(e.id, m.id))) activated.push(m.slot);
    }
    for (const s of activated) this.host.activated(s);
    this.flush();
  }

  /** Send the next `Scopes` when none is outstanding and something waits. */
  private flush(): void {
    if (this.outstanding !== null || this.batching) return;
    const opens = this.mine.filter((e) => e.state === 'queued').slice(0, MAX_SCOPES_OPEN);
    const closes = this.closes.splice(0, MAX_SCOPES_CLOSE);
    if (opens.length === 0 && closes.length === 0) return;
    for (const e of opens) e.state = 'pending';
    const msg: Scopes = { type: 'Scopes', seq: this.seq++, open: opens.map((e) => [e.number, e.id, e.name]), close: closes };
    this.outstanding = { msg, numbers: opens.map((e) => e.number), since: this.scheduler.now(), delay: SCOPES_RETRY_MS };
    this.transmit();
  }

  private transmit(): void {
    const out = this.outstanding;
    if (out === null) return;
    this.stats.scopesSent++;
    this.host.send(out.msg);
    this.cancel = this.scheduler.setTimer(() => {
      this.cancel = null;
      if (this.outstanding !== out) return;
      if (this.scheduler.now() - out.since >= SCOPES_GIVE_UP_MS) {
        this.stats.scopesGaveUp++;
        return this.host.giveUp();
      }
      out.delay = Math.min(out.delay * 2, SCOPES_RETRY_CAP_MS);
      this.transmit();
    }, out.delay);
  }
}

/**
 * Who may connect and whose commands are accepted. `list` mode (the default) admits only the
 * configured public keys; `open` mode (labs) admits any peer that proves possession of its key
 * and learns author keys from `Hello` and `Keys` messages.
 */
import { fingerprint } from '../../protocol/command.js';
import { toHex } from '../../protocol/keys.js';
import { MAX_KEYS } from '../../protocol/constants.js';

/** Trust mode. */
export type TrustMode = 'list' | 'open';

/** Author keys by fingerprint, plus the admission rule. */
export class KeyDirectory {
  private readonly keys = new Map<string, Uint8Array>();
  private trusted = new Set<string>();
  private currentMode: TrustMode;
  /** Most keys learnt in `open` mode, so a hostile lab peer cannot grow memory without bound. */
  static readonly MAX_LEARNT = 4096;

  /** @param mode `list` (default) or `open`. @param trusted raw 32-byte public keys. */
  constructor(mode: TrustMode, trusted: readonly Uint8Array[]) {
    this.currentMode = mode;
    for (const k of trusted) {
      this.keys.set(toHex(fingerprint(k)), Uint8Array.from(k));
      this.trusted.add(toHex(k));
    }
  }

  /** The trust mode in force. */
  get mode(): TrustMode {
    return this.currentMode;
  }

  /**
   * Replace the mode and the trusted keys (a reloaded keys file). Author keys no longer admitted
   * are forgotten, so their commands are refused from now on (commands already stored stay);
   * keys learnt in `open` mode stay while the mode is still `open`. The caller keeps its own key
   * in `trusted`. Returns how many trusted keys were added and removed.
   */
  replace(mode: TrustMode, trusted: readonly Uint8Array[]): { added: number; removed: number } {
    const next = new Set(trusted.map((k) => toHex(k)));
    let added = 0;
    let removed = 0;
    for (const k of next) if (!this.trusted.has(k)) added++;
    for (const k of this.trusted) if (!next.has(k)) removed++;
    this.currentMode = mode;
    this.trusted = next;
    for (const [fp, k] of this.keys) if (!this.admits(k)) this.keys.delete(fp);
    for (const k of trusted) {
      const fp = toHex(fingerprint(k));
      if (!this.keys.has(fp)) this.keys.set(fp, Uint8Array.from(k));
    }
    return { added, removed };
  }

  /** Keys known: trusted ones, and in `open` mode those learnt. */
  get size(): number {
    return this.keys.size;
  }

  /** Whether a peer or author with this key may connect / author commands. */
  admits(publicKey: Uint8Array): boolean {
    // Compare whole keys: a fingerprint is only 64 bits, and a key ground to collide with a
    // trusted one must not pass for it.
    return this.mode === 'open' || this.trusted.has(toHex(publicKey));
  }

  /** Record a key (only admitted keys are kept). Returns true when it was new. */
  learn(publicKey: Uint8Array): boolean {
    if (publicKey.length !== 32 || !this.admits(publicKey)) return false;
    const fp = toHex(fingerprint(publicKey));
    if (this.keys.has(fp) || this.keys.size >= KeyDirectory.MAX_LEARNT) return false;
    this.keys.set(fp, Uint8Array.from(publicKey));
    return true;
  }

  /** Public key of an author fingerprint (hex), if known and admitted. The signature check against it is what authenticates a command. */
  keyOf(authorHex: string): Uint8Array | undefined {
    return this.keys.get(authorHex);
  }

  /**
   * Every known key, in `Keys` messages of at most {@link MAX_KEYS} each (PROTOCOL.md §7): an
   * `open`-mode peer can only verify commands whose author keys reach it. Empty when none.
   */
  announcements(): Uint8Array[][] {
    const all = [...this.keys.values()];
    const out: Uint8Array[][] = [];
    for (let i = 0; i < all.length; i += MAX_KEYS) out.push(all.slice(i, i + MAX_KEYS));
    return out;
  }
}

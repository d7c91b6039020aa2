/**
 * The peer end of an unsealed v2 link, by hand (tests only): sends its `Hello`, answers the
 * engine's `Hello` with an `Auth`, keeps every message it receives, acknowledges the engine's
 * `Scopes` and opens the scopes it is told to, so a test can speak any message to an engine.
 */
import type { Link } from '../agent/link.js';
import { decodeMessageV2, encodeMessageV2 } from '../protocol/envelope-v2.js';
import type { Identity } from '../protocol/keys.js';
import { toHex } from '../protocol/keys.js';
import type { MessageV2 } from '../protocol/messages-v2.js';
import { authV2, helloV2 } from './fuzz-inputs-v2.js';

/** A raw v2 peer over one link. */
export class RawPeerV2 {
  readonly got: MessageV2[] = [];
  readonly hello: Uint8Array;
  private authed = false;
  private opened = 0;
  private seq = 0;
  constructor(
    readonly link: Link,
    private readonly me: Identity,
  ) {
    this.hello = helloV2(me);
    link.on('frame', (body) => {
      let m: MessageV2;
      try {
        m = decodeMessageV2(body);
      } catch {
        return;
      }
      this.got.push(m);
      if (m.type === 'Hello' && !this.authed) {
        this.authed = true;
        link.send(authV2(this.me, this.hello, body));
      }
      if (m.type === 'Scopes') this.send({ type: 'ScopesAck', seq: m.seq, refused: [] });
    });
    link.send(this.hello);
  }

  /** The engine's number for the scope `id` (from its `Scopes`), or undefined. */
  numberOf(id: Uint8Array): number | undefined {
    const hex = toHex(id);
    for (const m of this.got) if (m.type === 'Scopes') for (const e of m.open) if (toHex(e[1]) === hex) return e[0];
    return undefined;
  }

  /** Open the scopes toward the engine under this peer's numbers (one `Scopes`); returns the numbers. */
  open(scopes: { id: Uint8Array; name: string }[]): number[] {
    const open = scopes.map((s, i) => [this.opened + i, s.id, s.name] as [number, Uint8Array, string]);
    this.send({ type: 'Scopes', seq: this.seq++, open, close: [] });
    this.opened += scopes.length;
    return open.map((e) => e[0]);
  }

  send(m: MessageV2): void {
    this.link.send(encodeMessageV2(m));
  }
}

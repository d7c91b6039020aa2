/**
 * The peer comparison's Yjs side (issue 17): the same N commands (100-byte payloads, the same
 * bytes as syncwire's and Automerge's) synced between two Yjs documents by Yjs's own sync
 * protocol, the two steps of y-protocols/sync.
 *
 * Model, mirroring bench/automerge.ts (one Automerge change per command, appending to a list):
 * every command is one `Y.Doc.transact` that pushes one `Uint8Array` onto a `Y.Array` named
 * `cmds` (Yjs stores it as binary content, no base64 or JSON), so each command is one Yjs item
 * with its own id, as each is one change in Automerge and one signed command in syncwire.
 *
 * Sync: on a new link each peer sends step 1, its state vector (`Y.encodeStateVector`); each
 * answers the other's with step 2, `Y.encodeStateAsUpdate(doc, theirStateVector)` (update
 * format v1, what y-protocols sends), which the other applies. The two step-1 messages cross, so
 * the exchange is one round trip whatever the history. Bytes are the four messages as
 * y-protocols frames them (message type and length as lib0 varuints, then the body); a
 * transport's own framing (y-websocket's outer message type, a TCP length prefix) is not counted,
 * as it is not for syncwire or Automerge. Both documents live in this process: time is the CPU
 * work of both sides (encode, apply), no link.
 */
import * as Y from 'yjs';
import type { SyncCost } from './sync-cost.js';
import { payload } from './util.js';

/** The shared type every command is appended to. */
const LIST = 'cmds';

/** Thrown when the two documents do not hold the same commands after the sync. */
export class YjsBenchError extends Error {
  constructor(
    readonly reason: 'not_converged',
    message: string,
  ) {
    super(message);
    this.name = 'YjsBenchError';
  }
}

/** Bytes of `n` as a lib0 varuint (7 bits a byte). */
function varUintBytes(n: number): number {
  let k = 1;
  for (let r = n; r > 127; r = Math.floor(r / 128)) k++;
  return k;
}

/** Size of one y-protocols sync message carrying `body`: type varuint, length varuint, body. */
export function syncMessageBytes(body: Uint8Array): number {
  return 1 + varUintBytes(body.length) + body.length;
}

/** Append commands `from` … `to - 1`, one transaction (one item) each. */
function append(doc: Y.Doc, from: number, to: number): void {
  const list = doc.getArray<Uint8Array>(LIST);
  for (let i = from; i < to; i++) doc.transact(() => list.push([payload(100, i)]));
}

/** Both documents hold the same commands in the same order. */
function converged(a: Y.Doc, b: Y.Doc, expect: number): boolean {
  const la = a.getArray<Uint8Array>(LIST).toArray();
  const lb = b.getArray<Uint8Array>(LIST).toArray();
  if (la.length !== expect || lb.length !== expect) return false;
  return la.every((x, i) => Buffer.compare(x, lb[i]!) === 0);
}

/** Result of one Yjs sync: its cost and, for the record, the same updates in format v2. */
export interface YjsSync extends SyncCost {
  /** Bytes of the two step-2 updates had they been encoded with update format v2. */
  updateV2Bytes: number;
}

/** One sync of `a` and `b` by the two steps, both directions at once. */
function sync(a: Y.Doc, b: Y.Doc, expect: number): YjsSync {
  const t0 = performance.now();
  const svA = Y.encodeStateVector(a);
  const svB = Y.encodeStateVector(b);
  const toB = Y.encodeStateAsUpdate(a, svB);
  const toA = Y.encodeStateAsUpdate(b, svA);
  Y.applyUpdate(b, toB, 'sync');
  Y.applyUpdate(a, toA, 'sync');
  const ms = performance.now() - t0;
  if (!converged(a, b, expect)) throw new YjsBenchError('not_converged', `yjs did not converge on ${expect} commands`);
  // Measured after the timed window and after the sync: it reads the same histories again.
  const updateV2Bytes = Y.encodeStateAsUpdateV2(a, svB).length + Y.encodeStateAsUpdateV2(b, svA).length;
  const bytes = syncMessageBytes(svA) + syncMessageBytes(svB) + syncMessageBytes(toB) + syncMessageBytes(toA);
  return { bytes, roundTrips: 1, ms, updateV2Bytes };
}

/**
 * Sync `n` commands with Yjs: cold (B empty) or concurrent (the first half reached B earlier,
 * then a quarter new on each side: for n = 2,000, 1,000 shared and 500 + 500).
 */
export function yjsSync(n: number, concurrent: boolean): YjsSync {
  const a = new Y.Doc();
  const b = new Y.Doc();
  try {
    if (!concurrent) append(a, 0, n);
    else {
      append(a, 0, n / 2);
      Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
      append(a, n / 2, (3 * n) / 4);
      append(b, 1_000_000 + n / 2, 1_000_000 + (3 * n) / 4);
    }
    return sync(a, b, n);
  } finally {
    a.destroy();
    b.destroy();
  }
}

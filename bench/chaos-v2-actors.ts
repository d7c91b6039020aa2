/**
 * The peers of the protocol-v2 soak besides the gateway and the devices: an agent (an EngineV2 on
 * a disk store in its own data dir, dialing the gateway through the cutting proxy, closed and
 * reopened on the same dir mid-run) and a hostile peer (trusted by the gateway's link trust, so it
 * gets its own device scope, but asking to join another agent's device scope and writing to
 * scopes it may not write).
 */
import { attachTransport, type AttachedTransport } from '../agent/node/attach-transport.js';
import { EngineV2, type EngineV2Options } from '../agent/sync/engine-v2.js';
import type { Link } from '../agent/link.js';
import { toHex, type Identity } from '../protocol/keys.js';
import { addTally, batchTallyOf, emptyTally, type BatchTally } from './chaos-v2-batch.js';
import { FaultyLink } from './chaos-v2-links.js';

/** The fleet scope of the soak. */
export const FLEET = 'fleet/acme';

/** Soak pacing: rounds every 100–1000 ms, quick backoff, 1 s poll timeout. */
export const PACE_V2: NonNullable<EngineV2Options['tuning']> = {
  pollHint: { minMs: 100, maxMs: 1000 },
  backoff: { baseMs: 50, capMs: 1000, floorMs: 10, jitter: 0.2 },
  pollTimeoutMs: 1000,
  pollTimeoutMsPerByte: 0,
};

/** Dialer reconnect pacing of the agents' TCP transports. */
const REDIAL = { reconnectBaseMs: 50, reconnectMaxMs: 500 };

/**
 * Whether a commit failure is one a closing engine (EngineClosedError) or one still joining the
 * scope (UnknownScope) may give: not acknowledged, not a crash. Anything else is counted.
 */
export function expectedCommitError(err: unknown): boolean {
  const e = err as { name?: string; reason?: string };
  return e.name === 'EngineClosedError' || e.reason === 'UnknownScope';
}

/** One agent: its engine comes and goes, its data dir and acknowledged commits stay. */
export class SoakAgent {
  engine: EngineV2 | null = null;
  private transport: AttachedTransport | null = null;
  /** Acknowledged commits: scope name → command ids (hex). */
  readonly acked = new Map<string, Set<string>>();
  readonly links = new Set<FaultyLink>();
  restarts = 0;
  foreign = 0;
  commitsRefused = 0;
  unexpectedErrors: string[] = [];
  /** Compact batches its closed engines took in (a reopened engine counts from 0 again). */
  private readonly pastBatches = emptyTally();

  /**
   * @param elide the engine setting `elide` (PROTOCOL.md §10.7): store covered commands without
   *   their signatures. Default false.
   */
  constructor(
    readonly name: string,
    readonly identity: Identity,
    private readonly gatewayKey: Uint8Array,
    private readonly dataDir: string,
    private readonly dialUrl: string,
    readonly elide = false,
  ) {}

  /** Compact batches taken in over every engine it opened so far, the open one included. */
  get batches(): BatchTally {
    return addTally(batchTallyOf(this.engine), this.pastBatches);
  }

  /** Its device scope's name. */
  get own(): string {
    return `device/${this.identity.peerId}`;
  }

  /** Open the engine on the data dir and dial the gateway. */
  async open(): Promise<void> {
    const e = await EngineV2.open({
      identity: this.identity, trust: { mode: 'list', keys: [this.gatewayKey] }, dataDir: this.dataDir,
      tuning: { ...PACE_V2, elide: this.elide }, scopes: { join: [FLEET] },
    });
    e.on('appended', (a) => {
      if (a.scope !== this.own && a.scope !== FLEET) this.foreign++;
    });
    this.engine = e;
    this.transport = await attachTransport(this.dialUrl, { peerId: e.peerId, attach: (l: Link) => e.attach(this.wrap(l)) }, REDIAL);
  }

  private wrap(l: Link): FaultyLink {
    const f = new FaultyLink(l);
    this.links.add(f);
    f.once('close', () => this.links.delete(f));
    return f;
  }

  /** Power-cut style: drop the transport, close the engine (stores close; commits were fsynced when acknowledged). */
  async crash(): Promise<void> {
    const [t, e] = [this.transport, this.engine];
    this.transport = null;
    this.engine = null;
    await t?.close();
    addTally(this.pastBatches, batchTallyOf(e)); // before close: a closed engine holds no scopes
    await e?.close();
    this.restarts++;
  }

  /** Commit one payload to `scope` if the engine is up and holds it; record the id once acknowledged. */
  async commitTo(scope: string, payload: Uint8Array): Promise<void> {
    const e = this.engine;
    if (e === null || e.scope(scope) === undefined || e.scope(scope)!.joining) return;
    try {
      const id = await e.commit(scope, payload);
      const set = this.acked.get(scope) ?? new Set<string>();
      this.acked.set(scope, set.add(toHex(id)));
    } catch (err) {
      this.commitsRefused++;
      if (!expectedCommitError(err) && this.unexpectedErrors.length < 5) this.unexpectedErrors.push(String(err));
    }
  }

  async close(): Promise<void> {
    await this.transport?.close();
    await this.engine?.close();
    this.transport = null;
    this.engine = null;
  }
}

/**
 * The hostile peer: trusted on the link, member of nothing but its own device scope and the
 * open-read fleet scope; asks to join `victimScope` and tries to write it and the fleet scope.
 */
export class HostilePeer {
  engine: EngineV2 | null = null;
  private transport: AttachedTransport | null = null;
  /** Commands of a scope other than its own and the fleet scope that reached it. */
  foreign = 0;
  writeAttempts = 0;
  /** Writes its own engine took (they must never reach the gateway). */
  readonly localWrites = new Set<string>();

  constructor(
    readonly identity: Identity,
    private readonly gatewayKey: Uint8Array,
    private readonly dataDir: string,
    private readonly dialUrl: string,
    readonly victimScope: string,
  ) {}

  get own(): string {
    return `device/${this.identity.peerId}`;
  }

  async open(): Promise<void> {
    const e = await EngineV2.open({
      identity: this.identity, trust: { mode: 'list', keys: [this.gatewayKey] }, dataDir: this.dataDir,
      tuning: PACE_V2, scopes: { join: [this.victimScope, FLEET] },
    });
    e.on('appended', (a) => {
      if (a.scope !== this.own && a.scope !== FLEET) this.foreign++;
    });
    this.engine = e;
    this.transport = await attachTransport(this.dialUrl, e, REDIAL);
  }

  /** Try to write the victim's device scope and the fleet scope. */
  async attempt(payload: Uint8Array): Promise<void> {
    const e = this.engine;
    if (e === null) return;
    for (const scope of [this.victimScope, FLEET]) {
      this.writeAttempts++;
      try {
        this.localWrites.add(toHex(await e.commit(scope, payload)));
      } catch {
        // refused locally (not held, or not a writer): what a member check must do
      }
    }
  }

  /** Whether it holds the victim's scope at all. */
  get holdsVictim(): boolean {
    return this.engine?.scope(this.victimScope) !== undefined;
  }

  async close(): Promise<void> {
    await this.transport?.close();
    await this.engine?.close();
    this.transport = null;
    this.engine = null;
  }
}

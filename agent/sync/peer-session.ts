/**
 * One link to one peer: handshake (Hello + ed25519 challenge–response on both sides), then the
 * responder role (answer polls, manage the peer's subscription) and, through {@link SyncClient},
 * the requester role (poll, subscribe, renew, repair). Every frame is decoded, capped and
 * schema-checked; a bad frame is counted, answered with a typed error, and never crashes.
 */
import { randomBytes } from 'node:crypto';
import { Capability, MIN_FRAME_BYTES, MIN_POLL_BYTES, NONCE_BYTES, PROTOCOL_VERSION } from '../../protocol/constants.js';
import { decodeMessage, encodeMessage } from '../../protocol/envelope.js';
import { ReasonCode, SyncwireError, type ReasonName } from '../../protocol/errors.js';
import { compareBytes } from '../../protocol/command.js';
import { authTranscript, peerIdOf, toHex, verifySignature } from '../../protocol/keys.js';
import type { Hello, Message, PollRequest, Subscribe } from '../../protocol/messages.js';
import type { Link } from '../link.js';
import type { Engine } from './engine.js';
import { deepestFirst } from './graph-walk.js';
import { MAX_KNOWN } from './subscription-table.js';
import { TokenBucket, type ClientPacer } from './pacing.js';
import { WALK_COMMANDS_PER_TOKEN, type PollServer } from './poll-queue.js';
import type { PollJob } from './poll-responder.js';
import { SyncClient } from './sync-client.js';
import { equalBytes } from '../../protocol/bytes.js';

/** Per-session counters (shown by `syncwire status`). */
export interface SessionStats {
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  badFrames: number;
  errorsIn: number;
  pushedCommands: number;
  polledCommands: number;
  droppedBeforeAuth: number;
  pollsDeferred: number;
  /** Polls replaced by a newer one from the same link before they were answered (one poll per link). */
  pollsSuperseded: number;
}

/** Give up on a peer that has not authenticated after this long (the transport redials). */
const HANDSHAKE_TIMEOUT_MS = 60000;
/** First Hello retransmission; doubles up to {@link HELLO_RETRY_MAX_MS}. Links may lose frames. */
const HELLO_RETRY_MS = 500;
const HELLO_RETRY_MAX_MS = 8000;

/** A link's protocol session. */
export class PeerSession implements PollServer {
  peerId = '';
  peerKey: Uint8Array | null = null;
  peerMaxFrame = MIN_FRAME_BYTES;
  peerCaps = 0;
  authenticated = false;
  readonly stats: SessionStats = { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, badFrames: 0, errorsIn: 0, pushedCommands: 0, polledCommands: 0, droppedBeforeAuth: 0, pollsDeferred: 0, pollsSuperseded: 0 };
  readonly client: SyncClient;
  /** Our nonce: fresh for every handshake on this link, a restarted one included (§7). */
  private nonce = new Uint8Array(randomBytes(NONCE_BYTES));
  private gotHello = false;
  private earlyAuth: Uint8Array | null = null;
  private peerNonce: Uint8Array | null = null;
  private authFrame: Uint8Array | null = null;
  private helloFrame: Uint8Array;
  private readonly bucket: TokenBucket;
  private handshakeTimer: NodeJS.Timeout | null;
  private helloTimer: NodeJS.Timeout | null = null;
  private closing = false;
  private lastFrameBytes = 0;
  /** True while the link is above its high-water mark. */
  blocked = false;

  constructor(
    readonly engine: Engine,
    readonly link: Link,
    pacer: ClientPacer,
  ) {
    const b = engine.settings.pollBucket;
    this.bucket = new TokenBucket(b.capacity, b.perSecond, engine.settings.now());
    this.client = new SyncClient(this, pacer);
    link.on('frame', (body) => this.onFrame(body));
    link.on('frame-error', () => this.stats.badFrames++);
    link.on('drain', () => {
      this.blocked = false;
      engine.schedulePush();
    });
    link.once('close', () => this.onClose());
    this.handshakeTimer = setTimeout(() => {
      if (!this.authenticated) {
        engine.log.warn({ link: link.description }, 'handshake timed out');
        void this.close();
      }
    }, HANDSHAKE_TIMEOUT_MS);
    this.handshakeTimer.unref();
    this.helloFrame = this.encodeHello();
    this.sendHello(HELLO_RETRY_MS);
  }

  private encodeHello(): Uint8Array {
    return encodeMessage({
      type: 'Hello',
      version: PROTOCOL_VERSION,
      public_key: this.engine.identity.publicKey,
      max_frame: this.engine.settings.maxFrame,
      caps: Capability.Push | Capability.BareCommand,
      nonce: this.nonce,
    });
  }

  /** Send Hello (and our Auth, once made) until the peer authenticates: either may be lost. */
  private sendHello(nextMs: number): void {
    if (this.authenticated || !this.link.open) return;
    this.sendFrame(this.helloFrame);
    if (this.authFrame !== null) this.sendFrame(this.authFrame);
    this.helloTimer = setTimeout(() => this.sendHello(Math.min(nextMs * 2, HELLO_RETRY_MAX_MS)), nextMs);
    this.helloTimer.unref();
  }

  /**
   * The same value at both ends of this link: our nonce and the peer's, the smaller first. When a
   * peer is reached over two links, both ends keep the link with the smaller key (engine.ts).
   * Empty before the peer's Hello.
   */
  get linkKey(): string {
    if (this.peerNonce === null) return '';
    const [a, b] = compareBytes(this.nonce, this.peerNonce) <= 0 ? [this.nonce, this.peerNonce] : [this.peerNonce, this.nonce];
    return toHex(a) + toHex(b);
  }

  /** Largest frame body we may send this peer. */
  get sendLimit(): number {
    return Math.min(this.peerMaxFrame, this.link.maxFrame);
  }

  /** Whether the peer takes bare-command pushes. */
  get acceptsBare(): boolean {
    return (this.peerCaps & Capability.BareCommand) !== 0;
  }

  /** Whether we currently hold a push subscription with this peer. */
  get subscribed(): boolean {
    return this.client.subscribed;
  }

  /** Encode and send a message. */
  send(msg: Message): void {
    this.sendFrame(encodeMessage(msg));
  }

  /** Send an already-encoded frame body. */
  sendFrame(body: Uint8Array): void {
    if (!this.link.open) return;
    this.stats.framesOut++;
    this.stats.bytesOut += body.length;
    if (!this.link.send(body)) this.blocked = true;
  }

  /** Send a typed error. */
  sendError(reason: ReasonName, message: string, retryAfterMs: number | null): void {
    // toWellFormed: a cut may split a surrogate pair, and lone surrogates are not valid UTF-8.
    const text = message.slice(0, 256).toWellFormed();
    this.send({ type: 'Error', code: ReasonCode[reason], message: text, retry_after_ms: retryAfterMs });
  }

  /** Our upstream set changed: tell this peer (re-subscribe with a new `via`). */
  viaChanged(): void {
    if (this.authenticated) this.client.resubscribeSoon();
  }

  /** Close the session and its link. Idempotent. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.client.stop();
    await this.link.close();
    this.onClose();
  }

  private onClose(): void {
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    if (this.helloTimer) clearTimeout(this.helloTimer);
    this.handshakeTimer = this.helloTimer = null;
    this.client.stop();
    this.engine.detached(this);
  }

  private onFrame(body: Uint8Array): void {
    this.lastFrameBytes = body.length;
    this.stats.framesIn++;
    this.stats.bytesIn += body.length;
    let msg: Message;
    try {
      msg = decodeMessage(body, this.engine.settings.maxFrame);
    } catch (err) {
      this.stats.badFrames++;
      const reason = err instanceof SyncwireError ? err.reason : 'Malformed';
      this.engine.log.debug({ peer: this.peerId, reason, err: String(err) }, 'bad frame');
      // Answer once per few bad frames at most, so garbage cannot make us flood the link.
      if (this.stats.badFrames % 16 === 1) this.sendError(reason, String((err as Error).message ?? err), null);
      return;
    }
    try {
      this.dispatch(msg);
    } catch (err) {
      this.engine.log.error({ peer: this.peerId, err: String(err) }, 'message handling failed');
      this.sendError('Internal', 'internal error', 1000);
    }
  }

  private dispatch(msg: Message): void {
    if (!this.authenticated) {
      if (msg.type === 'Hello') return this.onHello(msg);
      if (msg.type === 'Auth') return this.onAuth(msg.signature);
      if (msg.type === 'Error') {
        // §7: counted and logged, nothing else: an unauthenticated sender must not steer the
        // requester (a forged MaximumSubscriptionsExceeded would hold our subscription back).
        this.stats.errorsIn++;
        this.engine.log.debug({ peer: this.peerId, code: msg.code, message: msg.message }, 'error before the link is up (ignored)');
        return;
      }
      // Our Auth may simply not have arrived yet (reordering): drop quietly, the requester retries.
      this.stats.droppedBeforeAuth++;
      return;
    }
    switch (msg.type) {
      case 'PollRequest':
        return this.onPollRequest(msg);
      case 'Subscribe':
        return this.onSubscribe(msg);
      case 'Unsubscribe':
        this.engine.table.remove(this.peerId);
        this.engine.pushes.forget(this.peerId);
        return;
      case 'Keys':
        for (const k of msg.keys) this.engine.keys.learn(k);
        return;
      case 'PollResponse':
        return this.client.onPollResponse(msg, this.lastFrameBytes);
      case 'Push':
        return this.client.onPush(msg);
      case 'SubscribeAck':
        return this.client.onSubscribeAck(msg.remain_open, msg.max_bytes);
      case 'Error':
        return this.onError(msg.code, msg.message, msg.retry_after_ms);
      case 'Hello':
        // Either our Auth was lost on the way, or the peer restarted: onHello tells which.
        return this.onHello(msg);
      case 'Auth':
        return; // a repeat after authentication changes nothing
    }
  }

  private onHello(h: Hello): void {
    if (this.gotHello) {
      if (this.peerNonce !== null && equalBytes(h.nonce, this.peerNonce) && this.peerKey !== null && equalBytes(h.public_key, this.peerKey)) {
        // Our Auth may have been lost: answer a repeated Hello again.
        if (this.authFrame !== null) this.sendFrame(this.authFrame);
        return;
      }
      // A new nonce on the same link: the peer restarted (a rebooted serial device). Start over.
      this.restartHandshake();
    }
    this.gotHello = true;
    this.peerNonce = Uint8Array.from(h.nonce);
    if (h.version !== PROTOCOL_VERSION) {
      this.sendError('UnsupportedVersion', `this agent speaks version ${PROTOCOL_VERSION}`, null);
      void this.close();
      return;
    }
    if (!this.engine.keys.admits(h.public_key)) {
      this.engine.log.warn({ peer: peerIdOf(h.public_key), link: this.link.description }, 'peer not in trust list');
      this.sendError('Unauthorized', 'peer key not trusted', null);
      void this.close();
      return;
    }
    this.peerKey = Uint8Array.from(h.public_key);
    this.peerId = peerIdOf(h.public_key);
    this.peerMaxFrame = Math.max(MIN_FRAME_BYTES, h.max_frame);
    this.peerCaps = h.caps;
    const me = this.engine.identity;
    this.authFrame = encodeMessage({ type: 'Auth', signature: me.sign(authTranscript(h.nonce, h.public_key, me.publicKey)) });
    this.sendFrame(this.authFrame);
    if (this.earlyAuth !== null) this.onAuth(this.earlyAuth);
  }

  private restartHandshake(): void {
    this.engine.log.info({ peer: this.peerId, link: this.link.description }, 'peer restarted its handshake');
    if (this.authenticated) {
      this.authenticated = false;
      this.client.stop();
      this.engine.detached(this);
      this.engine.pending.add(this);
    }
    this.gotHello = false;
    this.peerKey = null;
    this.peerNonce = null;
    this.authFrame = null;
    this.earlyAuth = null;
    // A fresh nonce of our own: under the old one, an Auth recorded from the first handshake
    // would authenticate whoever replays it as the "restarted" peer (§7).
    this.nonce = new Uint8Array(randomBytes(NONCE_BYTES));
    this.helloFrame = this.encodeHello();
    if (this.helloTimer) clearTimeout(this.helloTimer);
    this.sendHello(HELLO_RETRY_MS);
  }

  private onAuth(signature: Uint8Array): void {
    if (this.peerKey === null) {
      // Frames may be reordered: keep the Auth until the Hello it answers arrives.
      this.earlyAuth = Uint8Array.from(signature);
      return;
    }
    const me = this.engine.identity;
    if (!verifySignature(this.peerKey, authTranscript(this.nonce, me.publicKey, this.peerKey), signature)) {
      this.engine.log.warn({ peer: this.peerId }, 'peer failed authentication');
      this.sendError('Unauthorized', 'bad authentication signature', null);
      void this.close();
      return;
    }
    this.authenticated = true;
    this.link.markAuthenticated?.(); // a listener takes the link out of its pre-auth pool
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    if (this.helloTimer) clearTimeout(this.helloTimer);
    // The peer may not have our Auth yet (lost); a last copy costs 70 bytes and saves a retry.
    if (this.authFrame !== null) this.sendFrame(this.authFrame);
    this.engine.keys.learn(this.peerKey);
    this.engine.authenticated(this);
    if (this.closing) return; // the peer's other link was kept
    for (const keys of this.engine.keys.announcements()) this.send({ type: 'Keys', keys });
    this.client.start();
  }

  private onPollRequest(req: PollRequest): void {
    if (req.max_bytes < MIN_POLL_BYTES) {
      this.sendError('Malformed', `max_bytes below ${MIN_POLL_BYTES}`, null);
      return;
    }
    // Answered from the engine's poll queue: one poll per link, bounded work per turn.
    if (this.engine.polls.submit(this, req)) this.stats.pollsSuperseded++;
  }

  /** {@link PollServer}: admit a queued poll (the queue's turn has come). */
  startPoll(req: PollRequest): PollJob | null {
    const e = this.engine;
    if (!this.authenticated || !this.link.open) return null;
    if (this.blocked) {
      // The link is above its high-water mark: an answer would queue behind what is already
      // waiting and reach the requester after it gave up (bufferbloat on a slow lossy line). Let
      // the poll time out; the requester retries smaller once the queue has drained.
      this.stats.pollsDeferred++;
      return null;
    }
    const job = e.responder.begin(this.peerId, req);
    // A poll that continues where the last answer stopped is progress and never refused; any
    // other needs a token (it may be idle, or walk the graph), and is refused while in debt.
    if (!job.continued) {
      const wait = this.bucket.wait(e.settings.now());
      if (wait > 0) {
        this.sendError('Busy', 'polling faster than the pacing hint', Math.max(wait, e.pollHintMs()));
        return null;
      }
    }
    return job;
  }

  /**
   * {@link PollServer}: answer a job whose walk is done, and charge the work (§10.2): one token
   * for an answer with nothing to send and nothing left out (an idle poll; an answer whose
   * budget fit no command is not one), plus the fresh walk's size.
   */
  finishPoll(job: PollJob): void {
    const e = this.engine;
    if (!this.authenticated || !this.link.open) return;
    const res = e.responder.finish(job, this.sendLimit, e.pollHintMs());
    const idle = res.commands.length === 0 && !res.more;
    this.bucket.spend((idle ? 1 : 0) + job.visited / WALK_COMMANDS_PER_TOKEN, e.settings.now());
    this.stats.polledCommands += res.commands.length;
    this.send(res);
  }

  /** {@link PollServer}: a newer poll replaced `job`; its walk so far is still charged. */
  abandonPoll(job: PollJob): void {
    this.bucket.spend(job.visited / WALK_COMMANDS_PER_TOKEN, this.engine.settings.now());
  }

  private onSubscribe(sub: Subscribe): void {
    const e = this.engine;
    const now = e.settings.now();
    const remainOpen = Math.min(sub.remain_open, e.settings.maxRemainOpenS);
    e.table.reap(now);
    const slot = e.table.upsert(this.peerId, now + remainOpen * 1000, sub.max_bytes);
    if (slot < 0) {
      const retry = Math.max(1000, Math.ceil(e.table.earliestClose() - now));
      this.sendError('MaximumSubscriptionsExceeded', `all ${e.table.capacity} subscription slots in use`, retry);
      return;
    }
    // An update keeps what we already pushed as known: the subscriber's sample may predate it,
    // and anything a lost push dropped is repaired by the subscriber's polls.
    const known: number[] = e.table.knownOf(slot);
    for (const id of sub.sample) {
      const h = e.store.indexOf(id);
      if (h >= 0) known.push(h);
    }
    e.table.setKnown(slot, deepestFirst(e.store, known, MAX_KNOWN));
    e.pushes.forget(this.peerId); // a push in progress started from the old known heads
    e.table.setVia(slot, sub.via.map(toHex));
    e.table.dirty[slot] = 1;
    this.send({ type: 'SubscribeAck', remain_open: remainOpen, max_bytes: sub.max_bytes });
    e.schedulePush();
  }

  private onError(code: number, message: string, retryAfterMs: number | null): void {
    this.stats.errorsIn++;
    this.engine.log.debug({ peer: this.peerId, code, message, retryAfterMs }, 'peer sent error');
    this.client.onError(code, retryAfterMs);
  }
}

import t from 'tap';
import fc from 'fast-check';
import { Engine } from '../agent/sync/engine.js';
import { MemoryStore } from '../agent/store/memory-store.js';
import { SubscriptionCapacityError } from '../agent/sync/subscription-table.js';
import { createMemoryLinkPair } from '../agent/memory-link.js';
import { decodeMessage } from '../protocol/envelope.js';
import { encodeCommand } from '../protocol/command.js';
import { generateIdentity } from '../protocol/keys.js';
import { ReasonCode } from '../protocol/errors.js';
import type { Message } from '../protocol/messages.js';
import { connect, converge, graphOf, makeEngines, peerOf } from '../testkit/engines.js';
import { mulberry32 } from '../testkit/prng.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** The message a frame carries, or null (the sealed close marker, garbage). */
function messageOf(body: Uint8Array): Message | null {
  try {
    return decodeMessage(body);
  } catch {
    return null;
  }
}

/**
 * Check every message `s` sends `peer` against the budgets `peer` granted, from both engines'
 * `frame-out` events. Messages, not link bytes: budgets count messages before sealing
 * (PROTOCOL.md §7.1), and the link carries them sealed. A poll answer is held to the poll of the
 * same session number; pushes to the budget of the peer's newest `Subscribe`.
 */
function auditBudgets(s: Engine, peer: Engine, violations: string[]): void {
  const pollMax = new Map<number, number>();
  let subBudget = Infinity;
  let pushed = 0;
  // Requests travel peer → s; answers s → peer.
  peer.on('frame-out', (to, body) => {
    const m = to === s.peerId ? messageOf(body) : null;
    if (m?.type === 'PollRequest') pollMax.set(m.session, m.max_bytes);
    if (m?.type === 'Subscribe') {
      subBudget = m.max_bytes;
      pushed = 0;
    }
  });
  s.on('frame-out', (to, body) => {
    const m = to === peer.peerId ? messageOf(body) : null;
    const max = m?.type === 'PollResponse' ? (pollMax.get(m.session) ?? Infinity) : Infinity;
    if (m?.type === 'PollResponse' && body.length > max) violations.push(`poll response ${body.length} > ${max}`);
    if (m?.type === 'Push') {
      pushed += body.length;
      if (pushed > subBudget) violations.push(`pushes ${pushed} > budget ${subBudget}`);
    }
  });
}

t.test('property: random topologies, concurrent writers and lossy links converge', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 2, max: 4 }),
      fc.integer({ min: 1, max: 1 << 30 }),
      fc.constantFrom('poll', 'mixed'),
      fc.record({ drop: fc.constantFrom(0, 0.05, 0.2), duplicate: fc.constantFrom(0, 0.1), delayMs: fc.constantFrom(0, 5) }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 400 })), { minLength: 5, maxLength: 40 }),
      async (n, seed, mode, faults, writes) => {
        const rnd = mulberry32(seed);
        const engines = makeEngines(n, mode === 'poll' ? { subscribe: false } : { subscribe: { remainOpenS: 30, maxBytes: 4096 } });
        const violations: string[] = [];
        // A random spanning tree plus random extra edges keeps the graph connected.
        for (let i = 1; i < n; i++) {
          const j = Math.floor(rnd() * i);
          connect(engines[i]!, engines[j]!, { ...faults, random: rnd });
          auditBudgets(engines[i]!, engines[j]!, violations);
          auditBudgets(engines[j]!, engines[i]!, violations);
        }
        if (n > 2 && rnd() < 0.5) connect(engines[0]!, engines[n - 1]!, { ...faults, random: rnd });
        for (const [who, size] of writes) {
          await engines[who % n]!.commit(new Uint8Array(size).fill(who & 0xff));
          if (rnd() < 0.3) await new Promise((r) => setTimeout(r, 2));
        }
        // Generous: the suite runs two test files at once on a 2-core machine.
        const ok = await converge(engines, 30000);
        await Promise.all(engines.map((e) => e.close()));
        if (!ok) throw new Error(`no convergence: sizes ${engines.map((e) => e.store.size).join(',')}`);
        if (violations.length > 0) throw new Error(`budget violations: ${violations.slice(0, 3).join('; ')}`);
        return engines.every((e) => e.store.size === writes.length);
      },
    ),
    // No shrinking: a failing case is reported at once with its inputs (shrinking re-runs cases of
    // up to 30 s each and would outlast the file's timeout).
    { numRuns: 12, seed: 42, endOnFailure: true },
  );
  t.pass('all runs converged within budgets');
});

t.test('a peer reached over two links keeps one, the same at both ends', async (t) => {
  // Two links between the same two peers, frames lost and duplicated: the ends authenticate
  // the links in different orders. Keeping "the newer one" at each end closed both links.
  for (let seed = 1; seed <= 8; seed++) {
    const rnd = mulberry32(seed * 7919);
    const [a, b] = makeEngines(2, { subscribe: false });
    const pairs = [0, 1].map(() => connect(a!, b!, { drop: 0.2, duplicate: 0.1, random: rnd }));
    await a!.commit(enc(`a${seed}`));
    await b!.commit(enc(`b${seed}`));
    const ok = await converge([a!, b!], 10000);
    // Each end closes the link it drops, and a memory link closes both its ends: the one left open
    // is the one both kept (had each kept a different one, both would be closed).
    const open = pairs.filter(([la, lb, sa, sb]) => la.open && lb.open && sa.authenticated && sb.authenticated);
    t.ok(ok && open.length === 1, `seed ${seed}: converged over one link, the same at both ends`);
    await a!.commit(enc(`later${seed}`));
    t.ok(await converge([a!, b!], 10000), `seed ${seed}: and it keeps syncing`);
    await Promise.all([a!.close(), b!.close()]);
  }
});

t.test('a peer 10,000 commands behind catches up in one sync call', async (t) => {
  // No poll may time out here: a timed-out poll is legitimately asked again (FAST's 150 ms is
  // reachable on a loaded machine while 10,000 signatures verify), and this is about the cursor.
  const [a, b] = makeEngines(2, { subscribe: false, pollTimeoutMs: 120_000 });
  for (let i = 0; i < 10000; i++) await a!.commit(enc(`c${i}`));
  const [, , fromA, fromB] = connect(a!, b!);
  await new Promise<void>((resolve) => b!.once('peer-up', () => resolve()));
  await fromB.requester.syncOnce();
  t.equal(b!.store.size, 10000);
  t.same(graphOf(b!), graphOf(a!));
  const rounds = fromA.stats.polledCommands;
  t.equal(rounds, 10000, 'nothing was sent twice');
  await Promise.all([a!.close(), b!.close()]);
});

t.test('the 129th subscriber is refused with a retry hint; capacity must be a power of two', async (t) => {
  t.throws(() => makeEngines(1, { subscriptionCapacity: 100 }), SubscriptionCapacityError);
  const hub = makeEngines(1)[0]!;
  const ids = Array.from({ length: 129 }, () => generateIdentity());
  const keys = [hub.identity.publicKey, ...ids.map((i) => i.publicKey)];
  const hubTrusting = new Engine({ identity: hub.identity, store: new MemoryStore(), trust: { mode: 'list', keys } });
  const errors: number[] = [];
  const retry: (number | null)[] = [];
  const clients = ids.map((identity) => new Engine({ identity, store: new MemoryStore(), trust: { mode: 'list', keys } }));
  // The hub's messages as it sends them (`frame-out`): the link carries them sealed.
  hubTrusting.on('frame-out', (_to, body) => {
    const m = messageOf(body);
    if (m?.type === 'Error') {
      errors.push(m.code);
      retry.push(m.retry_after_ms);
    }
  });
  for (const c of clients) {
    const [x, y] = createMemoryLinkPair();
    hubTrusting.attach(x);
    c.attach(y);
  }
  const deadline = Date.now() + 10000;
  const held = (): number => hubTrusting.snapshot().subscriptions.used;
  while (held() < 128 || errors.length < 1) {
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  t.equal(held(), 128, 'exactly 128 slots held');
  t.same(errors, [ReasonCode.MaximumSubscriptionsExceeded], 'one refusal');
  t.ok((retry[0] ?? 0) > 0, 'refusal carries retry_after_ms');
  // The hub has sent its refusal; the refused peer takes it in a moment later (frames are handled
  // in arrival order, a turn at a time).
  const refusedPeers = (): Engine[] => clients.filter((c) => peerOf(c, hubTrusting.peerId)?.sync.refused === true);
  while (refusedPeers().length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.equal(refusedPeers().length, 1, 'the refused peer knows and falls back to polling');
  await Promise.all([hubTrusting.close(), ...clients.map((c) => c.close())]);
});

t.test('invalid commands are never stored', async (t) => {
  const [a, b] = makeEngines(2);
  const stranger = generateIdentity();
  const [la, lb] = createMemoryLinkPair();
  const toB = a!.attach(la);
  const fromB = b!.attach(lb);
  await new Promise<void>((resolve) => a!.once('peer-up', () => resolve()));
  while (!fromB.sealed) await new Promise((r) => setTimeout(r, 5)); // b's side up too: it seals what it sends
  const good = encodeCommand({ parents: [], author: b!.identity.author, seq: 1, payload: enc('ok') }, b!.identity.sign);
  const forged = encodeCommand({ parents: [], author: b!.identity.author, seq: 2, payload: enc('forged') }, stranger.sign);
  const unknownAuthor = encodeCommand({ parents: [], author: stranger.author, seq: 1, payload: enc('who') }, stranger.sign);
  const tampered = Uint8Array.from(good.bytes);
  tampered[tampered.length - 70]! ^= 1;
  // Pretend b pushes these to a (b's session seals them onto its link to a).
  fromB.send({ type: 'Push', remaining: 1000, exhausted: false, commands: [forged.bytes, unknownAuthor.bytes, tampered, good.bytes] });
  fromB.sendFrame(Uint8Array.from([0xff, 0x00, 0x13]));
  await new Promise((r) => setTimeout(r, 100));
  await a!.idle();
  t.equal(a!.store.indexOf(good.id) >= 0, true, 'the good command is stored');
  t.equal(a!.store.indexOf(forged.id), -1, 'forged signature rejected');
  t.equal(a!.store.indexOf(unknownAuthor.id), -1, 'unknown author rejected');
  t.ok(a!.snapshot().ingest.rejected >= 3, 'rejections counted');
  t.ok(toB.stats.badFrames >= 1, 'garbage frame counted');
  await Promise.all([a!.close(), b!.close()]);
});

t.test('a lost push is repaired by polling', async (t) => {
  const [a, b] = makeEngines(2);
  // Lose a's first push to b: `frame-out` names the message just before the link gets it sealed.
  let dropped = 0;
  let loseNext = false;
  a!.on('frame-out', (_to, body) => {
    loseNext = dropped === 0 && messageOf(body)?.type === 'Push';
    if (loseNext) dropped++;
  });
  connect(a!, b!, { lose: () => loseNext && !(loseNext = false) });
  await converge([a!, b!]);
  await new Promise((r) => setTimeout(r, 300)); // let b subscribe
  await a!.commit(enc('lost'));
  await a!.commit(enc('after'));
  t.ok(await converge([a!, b!]), 'converged after a lost push');
  t.equal(dropped, 1);
  await Promise.all([a!.close(), b!.close()]);
});

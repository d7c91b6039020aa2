/**
 * The soak's figures of compact batches and elided signatures (issue 17), taken once it settled:
 * the batches every engine took in, the commands the `elide` agents hold without a signature,
 * and an audit of every command every engine stores (bench/chaos-v2-batch.ts). The invariants on
 * them are in bench/chaos-v2-report.ts.
 */
import type { EngineV2 } from '../agent/sync/engine-v2.js';
import type { SoakAgent } from './chaos-v2-actors.js';
import { addAudits, addTally, auditSignatures, batchTallyOf, emptyTally, keysByAuthor, type SignatureAudit } from './chaos-v2-batch.js';

/** The batch and signature figures (flat keys, for the table). */
export function batchFigures(gw: EngineV2, agents: readonly SoakAgent[], hostile: EngineV2 | null, publicKeys: readonly Uint8Array[]): Record<string, number> {
  const keys = keysByAuthor(publicKeys);
  const elide = agents.filter((a) => a.elide);
  const plain = agents.filter((a) => !a.elide);
  const all = addTally(addTally(addTally(emptyTally(), batchTallyOf(gw)), batchTallyOf(hostile)), agents.reduce((t, a) => addTally(t, a.batches), emptyTally()));
  const elideBatches = elide.reduce((t, a) => addTally(t, a.batches), emptyTally());
  const audit = (es: (EngineV2 | null)[]): SignatureAudit => addAudits(es.map((e) => auditSignatures(e, keys)));
  const gwAudit = audit([gw]);
  const elideAudit = audit(elide.map((a) => a.engine));
  const plainAudit = audit([...plain.map((a) => a.engine), hostile]);
  const every = addAudits([gwAudit, elideAudit, plainAudit]);
  return {
    elide_agents: elide.length,
    batches_received: all.received,
    batches_commands: all.commands,
    batches_verified: all.verified,
    batches_covered_skips: all.coveredSkips,
    batches_uncovered: all.uncovered,
    elide_agent_batches_received: elideBatches.received,
    elide_agent_covered_skips: elideBatches.coveredSkips,
    elide_agent_held_commands: elideAudit.held,
    elide_agent_signed_commands: elideAudit.signed,
    // A host without `elide` never stores a command without its signature.
    held_commands_elsewhere: gwAudit.held + plainAudit.held,
    gateway_signatures_checked: gwAudit.signed,
    signatures_checked: every.signed,
    bad_signatures_stored: every.bad,
    unverifiable_authors_stored: every.unknownAuthor,
    undecodable_stored: every.undecodable,
  };
}

/**
 * The fuzz and slot-flood subsections of the protocol-v2 part of docs/RELIABILITY.md (inside the
 * section bench/chaos-v2-report.ts writes): how each scenario runs, its headline, its figures.
 */
import type { Figures } from './chaos/common.js';
import { tableV2 } from './chaos-v2-report.js';

/**
 * The live layer's heap, and what it means: growth that a forced GC leaves but that goes once the
 * layer's engines are gone was held by them while the hostile input lasted (a backlog, not
 * garbage and not a leak); growth still there afterwards is a leak.
 */
export function heapLine(f: Figures): string {
  const growth = Number(f.heap_growth_mb);
  const retained = Number(f.heap_retained_mb);
  const q = Array.isArray(f.heap_mb_by_quarter) ? f.heap_mb_by_quarter.join(', ') : '?';
  const head = `Heap of the live layer${f.heap_gc_forced === true ? ' (each reading after a forced GC)' : ' (no forced GC was available: readings include garbage)'}: ${String(f.heap_before_mb ?? '?')} MB at its start, ${q} MB after each quarter of its inputs, ${String(f.heap_after_mb ?? '?')} MB at its end with its engines open, ${String(f.heap_after_layer_mb ?? '?')} MB once they were gone.`;
  if (!Number.isFinite(growth) || !Number.isFinite(retained) || f.heap_gc_forced !== true) return head;
  // A few MB stay whatever the input count (code compiled and modules first loaded during the layer).
  return retained < Math.max(5, 0.25 * growth)
    ? `${head} The ${growth} MB of growth survived the forced GC but went with the engines (${retained} MB stayed): state they held while the hostile input lasted, not garbage and not leaked past them.`
    : `${head} ${retained} MB of it stayed after the engines were gone: a leak.`;
}

/** Both subsections, from the figures of bench/chaos-v2-fuzz.ts and bench/chaos-v2-flood.ts. */
export function sectionFuzzFloodV2(fuzz: Figures, flood: Figures): string {
  const z = (k: string): string => String(fuzz[k] ?? '?');
  const l = (k: string): string => String(flood[k] ?? '?');
  return `### Protocol v2 fuzz: hostile input into the decoders and a live gateway

\`bench/chaos-v2-fuzz.ts\` (\`test/chaos.test.ts\` runs a short one). Layer 1: serial and TCP frame
decoders (flipped bits, truncations, oversized lengths, no delimiter). Layer 2: the v2 message
decoder and the bare-push decoder on mutated v2 bodies of every message type. Layer 2c: compact
batches (two authors, a merge; every signature, runs elided, none) mutated bare and inside
\`PollResponse\`/\`Push\`, through \`decodeBatch\`, the verify plan, the real signature checks and
the cover outcome: no command outside the genuine ones may come out authenticated. Layer 2b: a sealed
frame opener under forged, altered, replayed and foreign-key frames. Layer 3: a live \`EngineV2\`
gateway holding an open-read fleet scope, fed by four authenticated peers on unsealed links
(hostile v2 messages under the right and wrong scope numbers, mutated bodies, replays of the good
link), by raw links that never handshake, by a peer on a sealed link (0x53 bodies, unsealed
messages, Hellos) and by the far end of a simulated UART, while a good peer commits to the fleet
scope; the authenticated peers also push compact batches of the fleet scope under its right number
(fresh chains of a writer without an engine, all signed or with elided signatures, replays of the
target's commands, mutations). Invariants: no crash, hang or untyped error; no forgery opens or
authenticates; every undecodable frame is counted (bad frame, or dropped unread when its link
closed first); the sealed link stays up with every injection counted; the target stores fresh
relayed commands, none without its signature and none whose signature fails; its scope ingest
drains; the good peer converges.

Measured (${fuzz.quick === true ? 'quick run' : 'full run'}): ${z('inputs')} inputs, ${z('crashes')} crashes, ${z('hangs')} hangs, ${z('untyped_errors')} untyped errors,
${z('sealed_forgeries_opened')} forgeries opened; live: ${z('live_undecodable_sent')} undecodable frames sent, ${z('live_bad_frames_counted')} bad frames and
${z('live_intake_dropped')} dropped at close counted; sealed link survived ${z('live_sealed_link_survived')}; good peer converged ${z('good_peer_converged')};
batches: ${z('batch_decoder_inputs')} through the batch path, ${z('batch_forgeries_authenticated')} forgeries authenticated; live ${z('live_batch_pushes')} batch pushes,
${z('live_relayed_stored')} relayed commands stored, ${z('live_target_held_commands')} held and ${z('live_target_bad_signatures')} bad signatures stored, ingest drained ${z('live_target_ingest_idle')}.

${heapLine(fuzz)}

${tableV2(fuzz)}
### Protocol v2 slot flood

\`bench/chaos-v2-flood.ts\` (\`test/chaos.test.ts\` runs a short one). ${l('peers')} authenticated peers join one
open-read fleet scope of a target \`EngineV2\` (subscription capacity ${l('capacity')}) and subscribe to it at
once, on unsealed memory links an observer reads; ${l('unauthenticated')} untrusted peers dial it over TCP;
${l('raw_preauth_links')} raw links send \`Subscribe\` and \`PollRequest\` before any handshake. Invariants: exactly
capacity slots held; every peer never granted one refused \`MaximumSubscriptionsExceeded\` with a
\`retry_after_ms\` and never subscribing or polling earlier than told; no untrusted peer admitted,
each told \`Unauthorized\`.

Measured: ${l('held')}/${l('capacity')} slots held ${l('settle_ms')} ms after the links came up, ${l('refused_with_hint')} refused with a hint,
${l('pace_violations')} pace violations, ${l('unauthenticated_admitted')} untrusted admitted.

${tableV2(flood)}`;
}

/**
 * The v2 demo's verdict: for every scope the gateway holds, whether all its members hold it with
 * the same heads, and the three isolation checks — every order only at its device, every
 * telemetry reading only at the gateway, the fleet config at everyone. Pure reads of the engines'
 * stores and the devices' rings; the demo re-runs it until everything passes or time is up.
 */
import { MAX_HEADS } from '../../protocol/constants.js';
import { toHex } from '../../protocol/keys.js';
import { headsOf } from '../sync/poll-answer-v2.js';
import { DEMO_FLEET, type DemoDeviceV2, type DemoEngineV2, type DemoWorldV2 } from './demo-v2-world.js';

/** What the demo committed, to check where it arrived. */
export interface DemoLedger {
  /** Orders the gateway committed: the device each is for, and its id. */
  orders: { device: string; id: Uint8Array }[];
  /** Telemetry the devices committed to their device scopes. */
  telemetry: { device: string; id: Uint8Array }[];
  /** The fleet config the gateway committed to `fleet/demo`, once committed. */
  fleetConfig: Uint8Array | null;
}

/** One verdict line. */
export interface Verdict {
  ok: boolean;
  line: string;
}

const short = (ids: readonly Uint8Array[]): string => ids.map((h) => toHex(h).slice(0, 8)).sort().join(' ');

/** Heads of `scope` at an engine, or null when it does not hold it (or is still joining it). */
function engineHeads(e: DemoEngineV2, scope: string): string | null {
  const h = e.engine.scope(scope);
  return h === undefined || h.joining ? null : short(headsOf(h.store));
}

/** Heads of `scope` at a device, or null when it does not hold it. */
function deviceHeads(d: DemoDeviceV2, scope: string): string | null {
  const s = d.device.scopes.find((x) => x.state === 'held' && x.name === scope);
  return s === undefined ? null : short(s.heads(MAX_HEADS));
}

/** Whether an engine holds `id` in any of its scopes. */
function engineHolds(e: DemoEngineV2, id: Uint8Array): boolean {
  return e.engine.scopes().some((s) => (e.engine.scope(s.name)?.store.indexOf(id) ?? -1) >= 0);
}

/** Whether a device retains `id` in any of its held scopes. */
function deviceHolds(d: DemoDeviceV2, id: Uint8Array): boolean {
  return d.device.scopes.some((s) => s.state === 'held' && s.retains(id));
}

/** Per-scope convergence lines, one per scope the gateway holds (device scopes first). */
export function scopeVerdicts(w: DemoWorldV2): Verdict[] {
  const out: Verdict[] = [];
  for (const { name } of w.gateway.engine.scopes().sort((a, b) => a.name.localeCompare(b.name))) {
    const members: { who: string; heads: string | null }[] = [{ who: w.gateway.name, heads: engineHeads(w.gateway, name) }];
    if (name === DEMO_FLEET) {
      for (const a of w.agents) members.push({ who: a.name, heads: engineHeads(a, name) });
      for (const d of w.devices) members.push({ who: d.name, heads: deviceHeads(d, name) });
    } else {
      const d = w.devices.find((x) => `device/${x.device.peerId}` === name);
      if (d !== undefined) members.push({ who: d.name, heads: deviceHeads(d, name) });
    }
    const missing = members.filter((m) => m.heads === null).map((m) => m.who);
    const ref = members[0]!.heads;
    const differ = members.filter((m) => m.heads !== null && m.heads !== ref).map((m) => `${m.who} heads ${m.heads}`);
    const ok = missing.length === 0 && differ.length === 0;
    const whoList = members.map((m) => m.who).join(', ');
    out.push({
      ok,
      line: ok
        ? `scope ${name}: converged, ${members.length} members (${whoList}), heads ${ref}`
        : `scope ${name}: NOT converged (gateway heads ${ref}${missing.length > 0 ? `; not held by ${missing.join(', ')}` : ''}${differ.length > 0 ? `; ${differ.join('; ')}` : ''})`,
    });
  }
  return out;
}

/** The three isolation checks. */
export function flowVerdicts(w: DemoWorldV2, l: DemoLedger): Verdict[] {
  const others = (name: string): DemoDeviceV2[] => w.devices.filter((d) => d.name !== name);
  const byName = (name: string): DemoDeviceV2 => w.devices.find((d) => d.name === name)!;

  const orderBad: string[] = [];
  for (const o of l.orders) {
    const id = toHex(o.id).slice(0, 8);
    if (!byName(o.device).device.deviceScope.retains(o.id)) orderBad.push(`${id} missing at ${o.device}`);
    for (const d of others(o.device)) if (deviceHolds(d, o.id)) orderBad.push(`${id} at ${d.name}`);
    for (const a of w.agents) if (engineHolds(a, o.id)) orderBad.push(`${id} at ${a.name}`);
  }
  const telemetryBad: string[] = [];
  for (const m of l.telemetry) {
    const id = toHex(m.id).slice(0, 8);
    const ds = w.gateway.engine.scope(`device/${byName(m.device).device.peerId}`);
    if (ds === undefined || ds.store.indexOf(m.id) < 0) telemetryBad.push(`${id} of ${m.device} missing at gateway`);
    for (const d of others(m.device)) if (deviceHolds(d, m.id)) telemetryBad.push(`${id} at ${d.name}`);
    for (const a of w.agents) if (engineHolds(a, m.id)) telemetryBad.push(`${id} at ${a.name}`);
  }
  const fleetBad: string[] = [];
  const cfg = l.fleetConfig;
  if (cfg === null) fleetBad.push('never committed');
  else {
    for (const a of w.agents) if ((a.engine.scope(DEMO_FLEET)?.store.indexOf(cfg) ?? -1) < 0) fleetBad.push(`missing at ${a.name}`);
    for (const d of w.devices) if (!d.device.scopes.some((s) => s.state === 'held' && s.name === DEMO_FLEET && s.retains(cfg))) fleetBad.push(`missing at ${d.name}`);
  }
  const verdict = (name: string, count: string, bad: string[]): Verdict => ({
    ok: bad.length === 0,
    line: bad.length === 0 ? `check ${name}: ok (${count})` : `check ${name}: FAILED (${bad.slice(0, 6).join('; ')}${bad.length > 6 ? `; +${bad.length - 6} more` : ''})`,
  });
  return [
    verdict('orders reached only their device', `${l.orders.length} orders`, l.orders.length === 0 ? ['no orders committed'] : orderBad),
    verdict('telemetry reached only the gateway', `${l.telemetry.length} readings`, l.telemetry.length === 0 ? ['no telemetry committed'] : telemetryBad),
    verdict('fleet config reached everyone', `${w.agents.length} agents, ${w.devices.length} devices`, fleetBad),
  ];
}

/** Every verdict: the scopes', then the checks'. */
export function verdicts(w: DemoWorldV2, l: DemoLedger): Verdict[] {
  return [...scopeVerdicts(w), ...flowVerdicts(w, l)];
}

/**
 * docs/syncwire.service as systemd 252 (Debian 12, Raspberry Pi OS Bookworm) reads it:
 * `systemd-analyze verify` on a copy must print nothing about the unit (an unknown key is ignored
 * with a warning, which is how RestartSteps= silently turned a retry-forever unit into one that
 * gave up after ~20 s), no key newer than 252 may appear, and the settings that keep a device
 * alive are present: restart forever with a fixed delay, no start limit, stop on exit 78, reload
 * by SIGHUP, readiness by notification (`Type=notify`, `NotifyAccess=all` for the spawned
 * `systemd-notify`), a watchdog the agent's ping schedule can keep through one stall, and a start
 * timeout long enough for a big store's scan.
 *
 * `systemd-analyze` is in Debian's `systemd` package (.ci/run installs it). Where it is absent the
 * verify test is skipped with a message, except under CI=true where that is a failure.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EXIT } from '../agent/cli/exit-codes.js';
import { LOOP_HEALTH_DEFAULTS } from '../agent/node/loop-health.js';
import { watchdogIntervalFrom } from '../agent/node/systemd-notify.js';

const UNIT = resolve('docs/syncwire.service');
const text = readFileSync(UNIT, 'utf8');

/**
 * Keys (and values) that systemd 252 does not know, with the version that added them (systemd's
 * NEWS). Using one on 252 is ignored with a warning: the unit then behaves as if it were absent.
 */
const NEWER_THAN_252: Record<string, number> = {
  OpenFile: 253,
  ReloadSignal: 253,
  NFTSet: 253,
  RestartSteps: 254,
  RestartMaxDelaySec: 254,
  RestartMode: 254,
  ImportCredential: 254,
  MemoryKSM: 254,
  DelegateSubgroup: 254,
  RootEphemeral: 254,
  SetLoginEnvironment: 255,
  SurviveFinalKillSignal: 255,
  CoredumpReceive: 255,
  MemoryZSwapWriteback: 256,
  PrivatePIDs: 257,
};
const NEWER_VALUES: [key: string, value: RegExp, since: number][] = [
  ['Type', /^notify-reload$/, 253],
  ['ProtectControlGroups', /^(private|strict)$/, 257],
  ['ProtectHostname', /^private/, 257],
];

/** The unit's settings: section → key → values (in order; comments and blank lines skipped). */
function parseUnit(src: string): Map<string, Map<string, string[]>> {
  const out = new Map<string, Map<string, string[]>>();
  let section = '';
  for (const raw of src.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const head = /^\[(.+)\]$/.exec(line);
    if (head) {
      section = head[1]!;
      if (!out.has(section)) out.set(section, new Map());
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) throw new Error(`not a key=value line: ${line}`);
    const keys = out.get(section)!;
    const key = line.slice(0, eq).trim();
    keys.set(key, [...(keys.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return out;
}

const unit = parseUnit(text);
const get = (section: string, key: string): string[] => unit.get(section)?.get(key) ?? [];

t.test('no key or value newer than systemd 252', async (t) => {
  for (const [section, keys] of unit) {
    for (const [key, values] of keys) {
      t.notOk(key in NEWER_THAN_252, `[${section}] ${key}= needs systemd ${NEWER_THAN_252[key]}`);
      for (const [k, re, since] of NEWER_VALUES) {
        if (k === key) for (const v of values) t.notMatch(v, re, `${key}=${v} needs systemd ${since}`);
      }
    }
  }
});

t.test('restarts forever, stops on a config error, reloads by SIGHUP', async (t) => {
  t.same(get('Unit', 'StartLimitIntervalSec'), ['0'], 'the start limit never trips');
  t.same(get('Service', 'StartLimitIntervalSec'), [], 'not in [Service] (systemd reads it in [Unit])');
  t.same(get('Unit', 'StartLimitBurst'), [], 'no burst limit');
  t.match(get('Service', 'Restart')[0], /^(always|on-failure)$/);
  const delay = /^(\d+)s$/.exec(get('Service', 'RestartSec')[0] ?? '');
  t.ok(delay && Number(delay[1]) >= 1 && Number(delay[1]) <= 30, `RestartSec between 1 and 30 s (${get('Service', 'RestartSec')})`);
  const prevent = get('Service', 'RestartPreventExitStatus').flatMap((v) => v.split(/\s+/));
  t.ok(prevent.includes('78'), 'exit 78 (bad config or key) is not restarted');
  // Exactly the statuses exit-codes.ts calls permanent: a runtime failure (1) and "try again
  // later" (75: disk full) must be restarted.
  t.same(prevent.map(Number).sort((a, b) => a - b), [EXIT.usage, EXIT.config].sort((a, b) => a - b), 'stops on 2 and 78 only');
  t.same(get('Service', 'ExecReload'), ['/bin/kill -HUP $MAINPID']);
  t.same(get('Service', 'StateDirectory'), ['syncwire']);
  t.same(get('Service', 'StateDirectoryMode'), ['0700']);
  t.same(get('Service', 'ProtectSystem'), ['strict']);
  t.same(get('Service', 'NoNewPrivileges'), ['yes']);
  t.same(get('Service', 'MemoryMax'), ['256M']);
  const bin = (JSON.parse(readFileSync('package.json', 'utf8')) as { bin: Record<string, string> }).bin.syncwire;
  t.match(get('Service', 'ExecStart')[0], new RegExp(`^/usr/bin/node /opt/syncwire/${bin} agent --config /etc/syncwire/config.json$`), 'runs the package bin');
  // Node refuses --lite-mode in NODE_OPTIONS; the unit must show it on the node command line.
  t.notMatch(text, /NODE_OPTIONS=[^\n]*--lite-mode/);
  t.match(text, /^#ExecStart=\/usr\/bin\/node --lite-mode \/opt\/syncwire\//m, 'the lite-mode variant passes the flag to node');
});

/** A systemd time span (`30s`, `10min`, `1min 30s`, a bare number = seconds) in seconds. */
function seconds(span: string | undefined): number {
  if (span === undefined) return NaN;
  const units: Record<string, number> = { '': 1, s: 1, sec: 1, m: 60, min: 60, h: 3600 };
  let total = 0;
  for (const part of span.trim().split(/\s+/)) {
    const m = /^(\d+)([a-z]*)$/.exec(part);
    if (m === null || units[m[2]!] === undefined) return NaN;
    total += Number(m[1]) * units[m[2]!]!;
  }
  return total;
}

t.test('ready by notification; a watchdog the agent keeps through one stall; time to open a big store', async (t) => {
  t.same(get('Service', 'Type'), ['notify'], 'started = READY=1 (store open, links attached)');
  t.same(get('Service', 'NotifyAccess'), ['all'], 'the sender is a spawned systemd-notify, not the main process');
  const watchdog = seconds(get('Service', 'WatchdogSec')[0]);
  t.equal(watchdog, 30);
  // What the agent does with the WATCHDOG_USEC systemd derives from it: a ping every half.
  const every = watchdogIntervalFrom({ WATCHDOG_USEC: String(watchdog * 1e6) })!;
  t.equal(every, 15_000);
  // One stall keeps the loop unhealthy for at most threshold + window (+ the tick and the
  // notifier's 1 s health check): that must cost less than one ping period, or a single stall
  // would leave two pings unsent, which is the whole WatchdogSec.
  const { intervalMs, thresholdMs, windowMs } = LOOP_HEALTH_DEFAULTS;
  t.ok(intervalMs + thresholdMs + windowMs + 1000 < every, 'one stall delays at most one ping');
  const start = seconds(get('Service', 'TimeoutStartSec')[0]);
  t.ok(start >= 300 && start <= 3600, `TimeoutStartSec between 5 min and 1 h (${start} s): a big store's scan, yet a hung start ends`);
  t.same(get('Service', 'WatchdogSignal'), [], 'the default (SIGABRT)');
});

/** systemd-analyze on PATH or in the usual places (PATH may lack /usr/bin's siblings under sudo). */
function findAnalyze(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/bin', '/bin', '/usr/sbin'];
  return dirs.map((d) => join(d, 'systemd-analyze')).find((p) => p.startsWith('/') && existsSync(p));
}

t.test('systemd-analyze verify reports nothing about the unit', async (t) => {
  const analyze = findAnalyze();
  if (analyze === undefined) {
    if (process.env.CI === 'true') t.fail('systemd-analyze is missing (Debian package systemd; .ci/run installs it)');
    else t.skip('systemd-analyze not found (install Debian package systemd to run this test)', () => {});
    return;
  }
  const version = Number(/systemd (\d+)/.exec(spawnSync(analyze, ['--version'], { encoding: 'utf8' }).stdout)?.[1] ?? NaN);
  t.comment(`systemd-analyze ${version}`);
  const dir = mkdtempSync(join(tmpdir(), 'swunit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // verify checks that ExecStart's binary exists and is executable: point it at this node.
  const verify = (src: string): { status: number | null; lines: string[] } => {
    const file = join(dir, 'syncwire.service');
    writeFileSync(file, src.replaceAll('/usr/bin/node ', `${process.execPath} `).replaceAll('/opt/syncwire/', `${resolve('.')}/`));
    const r = spawnSync(analyze, ['verify', file], { encoding: 'utf8', timeout: 60_000 });
    // On a host running systemd, verify may also talk about other installed units: keep ours.
    const lines = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.includes('syncwire'));
    return { status: r.status, lines };
  };
  const clean = verify(text);
  t.same(clean.lines, [], 'no warnings about docs/syncwire.service');
  t.equal(clean.status, 0);
  if (version < 254) {
    // The check can fail: 252 reports the key this unit used to have.
    const old = verify(text.replace('RestartSec=5s', 'RestartSec=5s\nRestartSteps=5'));
    t.match(old.lines.join('\n'), /Unknown key '?RestartSteps'?/, `systemd ${version} warns about RestartSteps=`);
  }
});

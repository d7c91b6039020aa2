/**
 * Running the compiled CLI (`dist/agent/cli/main.js`) as real child processes, for the store
 * lock, disk-full and CLI tests: run to completion (optionally with stdin), start and stop (or
 * kill its whole process group), poll the API socket's GET /v1/status, keygen.
 * Build first: `npx tsc -p tsconfig.json`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { apiRequest } from '../agent/api/api-client.js';
import { sleep } from './wait.js';

export const MAIN = resolve('dist/agent/cli/main.js');
if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (npx tsc -p tsconfig.json)`);

/** The children run without tap's per-process instrumentation (it costs ~300 ms a spawn). */
export const childEnv: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS' && k !== 'NODE_V8_COVERAGE' && !k.startsWith('_TAPJS_')),
);

/** The scope {@link CliHarness.agent} gives its agents: created at start, the default of commit, tail and the API. */
export const TEST_SCOPE = 'local/test';

/** Config `scopes` creating {@link TEST_SCOPE} (unbounded, this node its admin) as the default scope. */
export const TEST_SCOPES = { default: TEST_SCOPE, create: [{ name: TEST_SCOPE, retention: {}, members: [{ key: 'self', roles: 'rwa' }] }] };

/** How a process ended. */
export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Options of {@link CliHarness.start} and {@link CliHarness.run}. */
export interface StartOptions {
  /** Written to the child's stdin, which is then closed (default: stdin is /dev/null). */
  input?: string | Uint8Array;
  /** Extra environment variables. */
  env?: NodeJS.ProcessEnv;
  /**
   * Start the child as a process group leader, so {@link Started.killGroup} can kill it with
   * every process it started (a crash as systemd's cgroup kill makes it: nothing lingers).
   */
  detached?: boolean;
}

/** A long-running child: `stop()` sends SIGTERM (or `sig`) and resolves with how it ended. */
export interface Started {
  child: ChildProcess;
  done: Promise<Result>;
  stop(sig?: NodeJS.Signals): Promise<Result>;
  /**
   * SIGKILL the child's whole process group (start it with `detached`); resolves once the child
   * exited (not waiting for its output pipes: a process it started in a group of its own may
   * still hold them).
   */
  killGroup(): Promise<void>;
  /** Resolves once stdout matches `re`; rejects as {@link Started.waitStderr}. */
  waitStdout(re: RegExp, timeoutMs?: number): Promise<void>;
  /**
   * Resolves once stderr matches `re` (an agent's "agent started" line: its signal handlers are
   * installed from then on, while its status socket answers a little earlier).
   * @throws Error when the process ends first or `timeoutMs` (default 30 s) passes.
   */
  waitStderr(re: RegExp, timeoutMs?: number): Promise<void>;
}

/** Processes and directories of one test file, cleaned up by {@link CliHarness.cleanup}. */
export class CliHarness {
  private readonly children = new Set<ChildProcess>();
  /** Children started as process group leaders (`detached`). */
  private readonly groups = new Set<ChildProcess>();
  private readonly dirs: string[] = [];

  /** A fresh directory (short path: unix socket paths must stay under ~107 bytes). */
  tmp(prefix = 'swt-'): string {
    const d = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.push(d);
    return d;
  }

  /** Run the CLI to completion (killed after `timeoutMs`, default 30 s, which rejects). */
  run(args: string[], timeoutMs = 30000, opts: StartOptions = {}): Promise<Result> {
    const s = this.start(args, opts);
    const timer = setTimeout(() => s.child.kill('SIGKILL'), timeoutMs);
    return s.done.then((r) => {
      clearTimeout(timer);
      if (r.signal === 'SIGKILL') throw new Error(`syncwire ${args.join(' ')} timed out\n${r.stderr}`);
      return r;
    });
  }

  /** Start a long-running command. */
  start(args: string[], opts: StartOptions = {}): Started {
    const child = spawn(process.execPath, [MAIN, ...args], {
      env: { ...childEnv, ...opts.env },
      stdio: [opts.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      detached: opts.detached === true,
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    this.children.add(child);
    if (opts.detached === true) this.groups.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d));
    child.stderr!.on('data', (d: Buffer) => (stderr += d));
    const done = new Promise<Result>((r) =>
      child.on('close', (code, signal) => {
        this.children.delete(child);
        r({ code, signal, stdout, stderr });
      }),
    );
    let ended = false;
    void done.then(() => (ended = true));
    return {
      child,
      done,
      stop: (sig: NodeJS.Signals = 'SIGTERM') => {
        child.kill(sig);
        return done;
      },
      killGroup: () => {
        const exited = new Promise<void>((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        return exited;
      },
      waitStderr: async (re, timeoutMs = 30000) => {
        const by = Date.now() + timeoutMs;
        while (!re.test(stderr)) {
          if (ended || Date.now() > by) throw new Error(`stderr never matched ${re}:\n${stderr}`);
          await sleep(50);
        }
      },
      waitStdout: async (re, timeoutMs = 30000) => {
        const by = Date.now() + timeoutMs;
        while (!re.test(stdout)) {
          if (ended || Date.now() > by) throw new Error(`stdout never matched ${re}:\n${stdout}\nstderr:\n${stderr}`);
          await sleep(50);
        }
      },
    };
  }

  /** Kill what is still running (with its process group when detached) and remove the directories. */
  cleanup(): void {
    for (const c of this.children) {
      if (this.groups.has(c) && c.pid !== undefined) {
        try {
          process.kill(-c.pid, 'SIGKILL');
        } catch {
          /* the group is gone */
        }
      }
      c.kill('SIGKILL');
    }
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
  }

  /**
   * Start `syncwire agent` (protocol 2) on `dataDir` (a key file is created there first when
   * missing) with `args` added, and wait until its API answers on `<dataDir>/status.sock`.
   * Without `--config` in `args` it runs with `<dataDir>/agent.json` = {@link TEST_SCOPES}, so
   * it holds {@link TEST_SCOPE} and commits go there; a test giving its own config adds them.
   */
  async agent(dataDir: string, args: string[] = []): Promise<Started & { socket: string; peerId: string }> {
    if (!existsSync(join(dataDir, 'key.json'))) await this.keygen(join(dataDir, 'key.json'));
    const cfg = join(dataDir, 'agent.json');
    if (!args.includes('--config') && !args.includes('-c')) writeFileSync(cfg, JSON.stringify({ scopes: TEST_SCOPES }), { mode: 0o600 });
    const withCfg = args.includes('--config') || args.includes('-c') ? args : ['--config', cfg, ...args];
    const s = this.start(['agent', '-d', dataDir, '--log-level', 'warn', ...withCfg]);
    const socket = join(dataDir, 'status.sock');
    const status = await statusUntil(socket, () => true);
    return { ...s, socket, peerId: String(status.peerId) };
  }

  /** Create a key file; returns its peer id and public key. */
  async keygen(file: string): Promise<{ peerId: string; publicKey: string }> {
    const r = await this.run(['keygen', '--out', file, '--json']);
    if (r.code !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout) as { peerId: string; publicKey: string };
  }
}

/**
 * GET /v1/status on the API socket at `socket` until `ready(snapshot)` holds (generous default:
 * 30 s, for a loaded 2-core machine). @throws Error with the last answer when it never does.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- snapshots are read loosely in tests
export async function statusUntil(socket: string, ready: (s: Record<string, any>) => boolean, timeoutMs = 30000): Promise<Record<string, any>> {
  const by = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < by) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as above
      const s = (await apiRequest({ socketPath: socket }, 'GET', '/v1/status')).json as Record<string, any>;
      last = JSON.stringify(s);
      if (ready(s)) return s;
    } catch (err) {
      last = String(err);
    }
    await sleep(100);
  }
  throw new Error(`status never ready: ${last}`);
}

/** True when we run as root and a `mount` binary exists (then a failing mount is a real failure). */
export function canMount(): boolean {
  return process.getuid?.() === 0 && spawnSync('mount', ['--version']).status === 0;
}

/**
 * Mount a tmpfs of `size` (e.g. '256k') with extra `opts` on `dir`. Returns null on success,
 * else the reason (the caller fails when {@link canMount}, else skips with it).
 */
export function mountTmpfs(dir: string, size: string, opts: string[] = []): string | null {
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', [`size=${size}`, ...opts].join(','), 'tmpfs', dir], { encoding: 'utf8' });
  if (r.error) return `mount: ${r.error.message}`;
  return r.status === 0 ? null : `mount exited ${r.status}: ${r.stderr.trim()}`;
}

/** Unmount `dir` (lazily, so a straggling child cannot keep it busy). */
export function unmount(dir: string): void {
  spawnSync('umount', ['-l', dir]);
}

/** POST one text command to the agent's API socket; its id (hex). */
export async function postCommand(socket: string, text: string): Promise<string> {
  const r = await apiRequest({ socketPath: socket }, 'POST', '/v1/commands', { body: text, contentType: 'text/plain' });
  return (r.json as { id: string }).id;
}

/**
 * The ids of the data commands the agent at `socket` holds in its default scope (or `scope`), in
 * log order (GET /v1/commands): the genesis and membership commands are left out.
 */
export async function commandIds(socket: string, scope?: string): Promise<string[]> {
  const r = await apiRequest({ socketPath: socket }, 'GET', scope === undefined ? '/v1/commands' : `/v1/commands?scope=${encodeURIComponent(scope)}`);
  return r.text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { id: string; kind?: string })
    .filter((e) => e.kind === undefined || e.kind === 'data' || e.kind === 'v1')
    .map((e) => e.id);
}

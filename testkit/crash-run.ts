/**
 * Drives the crash child (`crash-writer.ts`, compiled): start it on a store directory, SIGKILL it
 * `ms` after it has opened the store, and report what it acknowledged. Shared by the scope
 * store's crash test and the chaos harness.
 */
import { spawn } from 'node:child_process';
import { syntheticGenesis } from './synthetic-commands-v2.js';

/** The scope the writer's `scope` mode commits to: its directory opens with this genesis's id. */
export const CRASH_SCOPE = syntheticGenesis('test/crash');

/** Which store the writer commits to: one scope directory, or a legacy v1 `commands.log`. */
export type CrashMode = 'scope' | 'legacy';

/** What one killed run of the crash writer printed. */
export interface CrashRun {
  /** First line, `open <commands> <truncatedBytes>` as the child saw the store ('' if it never opened). */
  opened: string;
  /** Ids the child acknowledged (complete lines only: a line cut by the kill proves nothing). */
  acked: string[];
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Run the compiled writer at `writer` with 4 committers on `dir` in `mode`; SIGKILL it `ms` after it opened. */
export function runAndKill(writer: string, dir: string, ms: number, mode: CrashMode = 'legacy'): Promise<CrashRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writer, dir, '4', mode], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      if (timer === undefined && out.includes('\n')) timer = setTimeout(() => child.kill('SIGKILL'), ms);
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      clearTimeout(timer);
      const lines = out.split('\n');
      lines.pop(); // the unterminated remainder, if any
      resolve({ opened: lines[0] ?? '', acked: lines.slice(1), signal, stderr: err });
    });
  });
}

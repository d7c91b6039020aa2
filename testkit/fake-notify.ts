/**
 * A fake systemd notify socket for tests: a datagram socket read with plain recv() by perl
 * (perl-base is Essential on Debian, so it is always there). It behaves like PID 1 in the one way
 * that matters: `systemd-notify` follows every message with a BARRIER=1 message carrying a pipe's
 * write end and waits until the receiver closes it; recv() without a control buffer makes the
 * kernel drop (close) passed descriptors, so the barrier completes at once. (socat reads the
 * ancillary data and keeps the descriptors: against it every send waits out the 5 s barrier.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Test } from 'tap';
import { until } from './wait.js';

const RECEIVER = `
use IO::Socket::UNIX; use Socket; $| = 1;
my $s = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Local => $ARGV[0]) or die "bind: $!";
print "listening\\n";
while (defined $s->recv(my $buf, 65536)) { $buf =~ s/\\\\/\\\\\\\\/g; $buf =~ s/\\n/\\\\n/g; print "$buf\\n"; }
`;

/** A listening fake notify socket at `path`, and every datagram received as its assignments (BARRIER=1 left out). */
export interface FakeNotifySocket {
  path: string;
  messages: string[][];
}

/** Bind a fake notify socket named `name` in `dir`; closed at the end of `t`. */
export async function fakeNotifySocket(t: Test, dir: string, name: string): Promise<FakeNotifySocket> {
  const path = join(dir, name);
  const child: ChildProcess = spawn('perl', ['-e', RECEIVER, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => void child.kill());
  const messages: string[][] = [];
  let listening = false;
  let buf = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => {
    buf += s;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line === 'listening') listening = true;
      else if (line !== 'BARRIER=1') messages.push(line.split('\\n').map((a) => a.replaceAll('\\\\', '\\')));
    }
  });
  await until(() => listening || child.exitCode !== null, 10_000, 'the fake notify socket');
  if (!listening) throw new Error('perl could not bind the fake notify socket');
  return { path, messages };
}

/** How many received messages carry the assignment `a` (e.g. `READY=1`). */
export const countNotify = (messages: string[][], a: string): number => messages.filter((m) => m.includes(a)).length;

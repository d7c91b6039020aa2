/**
 * Writing a command's output to stdout with backpressure: a long `tail` or `commit --stdin` into
 * a slow pipe waits for it instead of buffering its whole output in memory. A closed pipe
 * (`syncwire tail | head`), or any other stdout error, is not a crash: {@link stdoutClosed} turns true and callers stop.
 */

let closed = false;
let watching = false;

/** True once stdout's reader went away (EPIPE). */
export function stdoutClosed(): boolean {
  return closed;
}

function watch(): void {
  if (watching) return;
  watching = true;
  // Any stdout error (EPIPE, EBADF) means nobody reads our output any more.
  process.stdout.on('error', () => {
    closed = true;
  });
}

/** Write `text` to stdout; resolves at once, or once the pipe drained when its buffer is full. */
export function writeOut(text: string): Promise<void> {
  watch();
  if (closed) return Promise.resolve();
  if (process.stdout.write(text)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      process.stdout.off('drain', done);
      process.stdout.off('close', done);
      resolve();
    };
    process.stdout.once('drain', done);
    process.stdout.once('close', done);
  });
}

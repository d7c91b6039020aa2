/**
 * Lines of a byte stream for `commit --stdin`: split on `\n`, one trailing `\r` stripped (CRLF
 * input), empty lines skipped, the last line kept even without a final newline. The bytes are
 * kept as they are (no decoding), so a payload is exactly the line's bytes. Memory is bounded:
 * a line longer than `maxBytes` is an error naming its line number, not a growing buffer.
 */

/** One non-empty input line: its 1-based number in the input and its bytes (line ending stripped). */
export interface InputLine {
  lineNo: number;
  bytes: Uint8Array;
}

/** A line longer than the reader's limit. */
export class LineTooLongError extends Error {
  override readonly name = 'LineTooLongError';
  constructor(
    readonly lineNo: number,
    readonly maxBytes: number,
  ) {
    super(`line ${lineNo} is longer than ${maxBytes} bytes`);
  }
}

/**
 * Yield the non-empty lines of `input` in order.
 * @throws LineTooLongError when a line (without its ending) exceeds `maxBytes`.
 */
export async function* readLines(input: AsyncIterable<Uint8Array | string>, maxBytes: number): AsyncGenerator<InputLine> {
  let pending: Buffer[] = [];
  let pendingLen = 0;
  let lineNo = 0;
  const finish = (tail: Buffer): InputLine | undefined => {
    lineNo++;
    let line = pending.length === 0 ? tail : Buffer.concat([...pending, tail]);
    pending = [];
    pendingLen = 0;
    if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
    if (line.length > maxBytes) throw new LineTooLongError(lineNo, maxBytes);
    return line.length === 0 ? undefined : { lineNo, bytes: new Uint8Array(line) };
  };
  for await (const chunk of input) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let from = 0;
    for (let nl = buf.indexOf(0x0a, from); nl >= 0; nl = buf.indexOf(0x0a, from)) {
      const line = finish(buf.subarray(from, nl));
      from = nl + 1;
      if (line !== undefined) yield line;
    }
    if (from < buf.length) {
      // +1: a CR that ends the line may still come before the LF.
      if (pendingLen + buf.length - from > maxBytes + 1) throw new LineTooLongError(lineNo + 1, maxBytes);
      // Copied: the stream may reuse its chunk buffer.
      pending.push(Buffer.from(buf.subarray(from)));
      pendingLen += buf.length - from;
    }
  }
  if (pendingLen > 0) {
    const line = finish(Buffer.alloc(0));
    if (line !== undefined) yield line;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The content type a line is posted with: `application/json` when it is UTF-8 that parses as
 * JSON, `text/plain; charset=utf-8` for other UTF-8, `application/octet-stream` otherwise. The
 * payload is the line's bytes in every case; the type only tells the agent how to check them.
 */
export function contentTypeOf(bytes: Uint8Array): string {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return 'application/octet-stream';
  }
  try {
    JSON.parse(text);
    return 'application/json';
  } catch {
    return 'text/plain; charset=utf-8';
  }
}

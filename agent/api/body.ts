/**
 * Reading request bodies under a cap, and the content-type rules of `POST /v1/commands`
 * (api.md). The cap is enforced while reading: a declared `Content-Length` above it is refused
 * before a byte is read, and a chunked body is refused as soon as the running total passes it,
 * so the server never holds more than `cap` bytes of one request.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError } from './api-error.js';

/** Thrown when the client went away (or broke the stream) mid-body: nobody to answer. */
export class BodyAbortedError extends Error {
  override readonly name = 'BodyAbortedError';
}

/**
 * Read the whole body of `req`, at most `cap` bytes. With `continueTo` (the request expects
 * `100 Continue`), that interim answer is sent once the declared length passed the cap check.
 * @throws ApiError `too_large` (413) above `cap` (reading stops there); BodyAbortedError when
 *   the request is aborted.
 */
export function readBody(req: IncomingMessage, cap: number, continueTo?: ServerResponse): Promise<Uint8Array> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > cap) {
    return Promise.reject(tooLarge(cap));
  }
  continueTo?.writeContinue();
  return new Promise<Uint8Array>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let settled = false;
    const finish = (err: Error | null): void => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onError);
      if (err) {
        // Stop taking bytes: the answer goes out with `Connection: close` and the socket ends.
        req.pause();
        reject(err);
      } else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total));
    };
    const onData = (c: Buffer): void => {
      total += c.length;
      if (total > cap) return finish(tooLarge(cap));
      chunks.push(c);
    };
    const onEnd = (): void => finish(null);
    const onError = (): void => finish(new BodyAbortedError('the request was aborted'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onError);
  });
}

function tooLarge(cap: number): ApiError {
  return ApiError.of('too_large', `the body exceeds ${cap} bytes (the largest payload one command can carry)`, { limit: cap });
}

/** How a `POST /v1/commands` body is to be taken, by its Content-Type. */
export type PayloadKind = 'raw' | 'json';

/**
 * Classify the request's Content-Type: absent, `application/octet-stream` or `text/plain` →
 * raw bytes; `application/json` (charset utf-8 or none) → JSON.
 * @throws ApiError `unsupported_media_type` (415) for anything else.
 */
export function payloadKind(contentType: string | undefined): PayloadKind {
  if (contentType === undefined || contentType.trim() === '') return 'raw';
  const [type = '', ...params] = contentType.split(';').map((s) => s.trim().toLowerCase());
  if (type === 'application/octet-stream' || type === 'text/plain') return 'raw';
  if (type === 'application/json') {
    const charsetOk = params.every((p) => !p.startsWith('charset=') || /^charset="?utf-8"?$/.test(p));
    if (charsetOk) return 'json';
  }
  throw ApiError.of(
    'unsupported_media_type',
    `unsupported Content-Type ${JSON.stringify(contentType)}: use application/octet-stream, application/json (utf-8) or text/plain`,
  );
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Check a body for `POST /v1/commands`: not empty, and (for JSON) UTF-8 that parses. The
 * payload is always the bytes as sent (JSON is not re-encoded).
 * @throws ApiError `bad_request` (400).
 */
export function checkPayload(body: Uint8Array, kind: PayloadKind): Uint8Array {
  if (body.length === 0) throw ApiError.of('bad_request', 'the body is empty: a command needs a payload');
  if (kind === 'json') {
    try {
      JSON.parse(utf8.decode(body));
    } catch {
      throw ApiError.of('bad_request', 'the body is not valid JSON (UTF-8), as its Content-Type says');
    }
  }
  return body;
}

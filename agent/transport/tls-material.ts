/** Loading TLS material from options and URL parameters (`ca=`, `cert=`, `key=` file paths). */
import { readFile } from 'node:fs/promises';
import { TransportError } from './errors.js';
import type { TlsOptions } from './options.js';

/** TLS material ready for `tls.connect` / `tls.createServer` / mqtt.js. */
export interface LoadedTls {
  ca?: Buffer[];
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized: boolean;
  servername?: string;
}

/**
 * Merge `opts` with the URL's `ca=`, `cert=`, `key=` parameters (the URL wins) and read any file
 * paths. `rejectUnauthorized` defaults to true.
 * @throws TransportError `BadOptions` when a file cannot be read.
 */
export async function loadTls(url: URL, opts: TlsOptions | undefined, display: string): Promise<LoadedTls> {
  const q = url.searchParams;
  const ca = q.get('ca') ?? opts?.ca;
  const cert = q.get('cert') ?? opts?.cert;
  const key = q.get('key') ?? opts?.key;
  const out: LoadedTls = { rejectUnauthorized: opts?.rejectUnauthorized ?? true };
  if (ca !== undefined) out.ca = await Promise.all((Array.isArray(ca) ? ca : [ca]).map((x) => pem(x, 'ca', display)));
  if (cert !== undefined) out.cert = await pem(cert, 'cert', display);
  if (key !== undefined) out.key = await pem(key, 'key', display);
  if (opts?.servername !== undefined) out.servername = opts.servername;
  return out;
}

async function pem(x: string | Buffer, what: string, display: string): Promise<Buffer> {
  if (Buffer.isBuffer(x)) return x;
  if (x.includes('-----BEGIN')) return Buffer.from(x);
  try {
    return await readFile(x);
  } catch (err) {
    throw new TransportError('BadOptions', `${display}: cannot read ${what} file ${x}: ${(err as Error).message}`, { cause: err });
  }
}

import { readFile } from 'node:fs/promises';
import * as https from 'node:https';
import * as path from 'node:path';
import { SnsError } from './sns.error';

/** AWS signing certificates are a couple of KB; anything much larger is not one. */
export const MAX_CERT_BYTES = 64 * 1024;

/**
 * Where signing certificates come from: HTTP out, so it sits behind this seam. Only ever called
 * with a URL that already passed the host rule (`checkSigningCertUrl`); tests replace or spy on
 * it to serve a test certificate, and assert it was never called for a rejected URL.
 */
export abstract class SnsCertificateFetcher {
  /** PEM text; throws SNS_SIGNATURE_INVALID when AWS says there is no such certificate, SNS_CERT_UNAVAILABLE when it cannot tell. */
  abstract fetch(url: URL): Promise<string>;
}

/** The real one: one GET, no redirects, a timeout and a size cap. */
export class HttpsSnsCertificateFetcher extends SnsCertificateFetcher {
  constructor(
    private readonly timeoutMs: number,
    /** TLS settings on top of the defaults (tests trust a local server with it); production passes none. */
    private readonly tls: Pick<https.RequestOptions, 'ca' | 'checkServerIdentity'> = {},
  ) {
    super();
  }

  fetch(url: URL): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = https.get(url, { ...this.tls, timeout: this.timeoutMs, headers: { accept: 'application/x-pem-file' } }, (res) => {
        const status = res.statusCode ?? 0;
        if (status !== 200) {
          res.resume();
          reject(
            status >= 400 && status < 500
              ? new SnsError('SNS_SIGNATURE_INVALID', `the signing certificate ${url.href} does not exist (AWS answered ${status})`)
              : new SnsError('SNS_CERT_UNAVAILABLE', `fetching the signing certificate ${url.href} answered ${status}`, {}, true),
          );
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_CERT_BYTES) {
            req.destroy();
            reject(new SnsError('SNS_SIGNATURE_INVALID', `the signing certificate ${url.href} is larger than ${MAX_CERT_BYTES} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        res.on('error', (err) => reject(unavailable(url, err)));
      });
      req.on('timeout', () => req.destroy(new Error(`no answer in ${this.timeoutMs} ms`)));
      req.on('error', (err) => reject(unavailable(url, err)));
    });
  }
}

/**
 * Sandbox and demo only (refused in production by the config): a folder whose PEM files answer
 * for SigningCertURLs by file name. The URL has passed the host rule before it gets here.
 */
export class DirectorySnsCertificateFetcher extends SnsCertificateFetcher {
  constructor(readonly dir: string) {
    super();
  }

  async fetch(url: URL): Promise<string> {
    const name = path.posix.basename(url.pathname);
    if (!/^[A-Za-z0-9._-]+\.pem$/.test(name)) throw new SnsError('SNS_SIGNATURE_INVALID', `no signing certificate for ${url.href}`);
    try {
      const text = await readFile(path.join(this.dir, name), 'utf8');
      if (text.length > MAX_CERT_BYTES) throw new SnsError('SNS_SIGNATURE_INVALID', `certificate file ${name} is too large`);
      return text;
    } catch (err) {
      if (err instanceof SnsError) throw err;
      throw new SnsError('SNS_SIGNATURE_INVALID', `no signing certificate ${name} in RUNBOOKD_SNS_CERTS_DIR`);
    }
  }
}

function unavailable(url: URL, err: Error): SnsError {
  return new SnsError('SNS_CERT_UNAVAILABLE', `could not fetch the signing certificate ${url.href}: ${err.message}`, {}, true);
}

import { createVerify, KeyObject, X509Certificate } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { Clock } from '../../common/clock';
import { SnsCertificateFetcher } from './sns-certificate.fetcher';
import { SnsMessage, stringToSign } from './sns-message';
import { SnsError } from './sns.error';

const CERT_HOST = /^sns\.[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d\.amazonaws\.com(\.cn)?$/;
/** Certificates are fetched once per URL; AWS rotates by publishing under a new name. */
const CACHE_MS = 24 * 3600 * 1000;
const MAX_CACHED = 100;

/**
 * The host rule: https, `sns.<region>.amazonaws.com` (or `.com.cn`), default port, path ending
 * `.pem`. Checked before anything is fetched, and never loosened by configuration: a sandbox
 * serves its test certificate through the fetcher, under an AWS-looking URL.
 */
export function checkSigningCertUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw rejected(raw, 'not a URL');
  }
  if (url.protocol !== 'https:') throw rejected(raw, 'must be https');
  if (url.username || url.password) throw rejected(raw, 'must not carry credentials');
  if (url.port !== '') throw rejected(raw, 'must use the default port');
  if (!CERT_HOST.test(url.hostname)) throw rejected(raw, 'host must be sns.<region>.amazonaws.com');
  if (!url.pathname.endsWith('.pem') || url.search || url.hash) throw rejected(raw, 'path must end in .pem');
  return url;
}

/** Verifies SignatureVersion 1 (SHA1withRSA) and 2 (SHA256withRSA) over the exact string AWS signs. */
@Injectable()
export class SnsSignatureVerifier {
  private readonly cache = new Map<string, { key: Promise<KeyObject>; at: number }>();

  constructor(
    private readonly fetcher: SnsCertificateFetcher,
    private readonly clock: Clock,
  ) {}

  async verify(m: SnsMessage): Promise<void> {
    const url = checkSigningCertUrl(m.SigningCertURL);
    const key = await this.publicKey(url);
    const verifier = createVerify(m.SignatureVersion === '1' ? 'RSA-SHA1' : 'RSA-SHA256');
    verifier.update(stringToSign(m), 'utf8');
    let ok: boolean;
    try {
      ok = verifier.verify(key, m.Signature, 'base64');
    } catch {
      ok = false;
    }
    if (!ok) throw new SnsError('SNS_SIGNATURE_INVALID', 'the signature does not match the message (forged or altered)', { messageId: m.MessageId });
  }

  private publicKey(url: URL): Promise<KeyObject> {
    const now = this.clock.nowMs();
    const hit = this.cache.get(url.href);
    if (hit && now - hit.at < CACHE_MS) return hit.key;
    const key = this.load(url);
    if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(url.href, { key, at: now });
    // A failed fetch is not remembered: the next delivery tries again.
    key.catch(() => this.cache.delete(url.href));
    return key;
  }

  private async load(url: URL): Promise<KeyObject> {
    const pem = await this.fetcher.fetch(url);
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(pem);
    } catch {
      throw new SnsError('SNS_SIGNATURE_INVALID', `${url.href} is not an X.509 certificate`);
    }
    const now = this.clock.nowMs();
    if (Date.parse(cert.validTo) < now || Date.parse(cert.validFrom) > now + 5 * 60_000) {
      throw new SnsError('SNS_SIGNATURE_INVALID', `the signing certificate ${url.href} is not valid now (${cert.validFrom} to ${cert.validTo})`);
    }
    return cert.publicKey;
  }
}

function rejected(url: string, why: string): SnsError {
  return new SnsError('SNS_CERT_URL_REJECTED', `SigningCertURL refused (${why}); nothing was fetched`, { signingCertUrl: url.slice(0, 300) });
}

import * as http from 'node:http';
import { REGION } from './runbookd';

/**
 * moto's SNS signs what it posts (SignatureVersion 2) with a key it makes per subscription and
 * serves the certificate itself, under https://sns.<region>.amazonaws.com/<name>.pem. The test's
 * fetcher answers for that URL from moto; the webhook's host rule is exactly the production one.
 */
export function motoCertificate(motoEndpoint: string) {
  return async (url: URL): Promise<string> =>
    new Promise((resolve, reject) => {
      const moto = new URL(motoEndpoint);
      // moto tells services apart by the credential scope of the Authorization header.
      const authorization = `AWS4-HMAC-SHA256 Credential=test/20260101/${REGION}/sns/aws4_request, SignedHeaders=host, Signature=00`;
      http
        .get({ host: moto.hostname, port: moto.port, path: url.pathname, headers: { authorization } }, (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`moto answered ${res.statusCode}`))));
        })
        .on('error', reject);
    });
}

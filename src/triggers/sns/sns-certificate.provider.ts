import { Logger, type Provider } from '@nestjs/common';
import { AppConfig } from '../../config/app.config';
import { DirectorySnsCertificateFetcher, HttpsSnsCertificateFetcher, SnsCertificateFetcher } from './sns-certificate.fetcher';

/** HTTPS to AWS, or (sandbox and demo, never production: the config refuses it) a folder of PEM files. */
export const snsCertificateFetcherProvider: Provider = {
  provide: SnsCertificateFetcher,
  inject: [AppConfig],
  useFactory: (config: AppConfig): SnsCertificateFetcher => {
    if (config.sns.certsDir) {
      new Logger('SnsWebhook').warn(`SNS signing certificates are read from ${config.sns.certsDir} (RUNBOOKD_SNS_CERTS_DIR, sandbox only)`);
      return new DirectorySnsCertificateFetcher(config.sns.certsDir);
    }
    return new HttpsSnsCertificateFetcher(config.sns.certTimeoutMs);
  },
};

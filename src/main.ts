import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createApp } from './app.factory';
import { ConfigError, loadConfig } from './config/app.config';
import { nodeRelease, nodeReleaseLogLine } from './common/node-release';

async function main(): Promise<void> {
  const logger = new Logger('Boot');
  // First, so even a boot that fails on its config says which runtime it was on.
  const runtime = nodeReleaseLogLine(nodeRelease(process.version, new Date()));
  logger[runtime.level](runtime.message);
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      logger.error(err.message);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  if (config.sns.certsDir) logger.warn(`RUNBOOKD_SNS_CERTS_DIR=${config.sns.certsDir}: SNS signing certificates are served from this folder (sandbox only)`);
  for (const [name, url] of Object.entries(config.aws.endpoints)) logger.warn(`${name}=${url}: AWS calls go to this endpoint, not AWS`);
  try {
    const app = await createApp(config);
    if (config.role === 'worker') {
      await app.init();
      logger.log('runbookd worker started');
    } else {
      await app.listen(config.http.port, config.http.host);
      logger.log(`runbookd (${config.role}) listening on ${await app.getUrl()}`);
    }
  } catch (err) {
    // A bad runbook, an unreachable database: say exactly what, and stop.
    logger.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  }
}

void main();

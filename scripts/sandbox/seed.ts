/**
 * Seeds the sandbox AWS (moto) with the demo estate.
 *   node -r @swc-node/register scripts/sandbox/seed.ts
 * Env: AWS_ENDPOINT_URL (default http://127.0.0.1:5000), AWS_REGION (default eu-west-1).
 */
import { seedBackups } from './seed-backups';
import { seedSandbox } from './seed-estate';

async function main(): Promise<void> {
  const endpoint = process.env.AWS_ENDPOINT_URL || 'http://127.0.0.1:5000';
  const region = process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || 'eu-west-1';

  // This script creates databases; pointed at a real account by a stray variable it would cost money.
  if (/amazonaws\.com(\.cn)?$/i.test(new URL(endpoint).hostname)) {
    throw new Error(`AWS_ENDPOINT_URL=${endpoint} is real AWS; the seed only runs against a sandbox such as moto`);
  }
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey } = process.env;
  const credentials = accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined;

  const result = await seedSandbox({ endpoint, region, credentials });
  console.log(`sandbox ${endpoint} (${region}): ${result.created.length} created, ${result.existing.length} already there`);
  for (const what of result.created) console.log(`  + ${what}`);
  // Snapshots and a DR-region copy, so the restore runbooks have current backups to test.
  for (const what of await seedBackups({ endpoint, region, credentials })) console.log(`  + ${what}`);
}

main().catch((e: unknown) => {
  const err = e as { name?: string; message?: string; code?: string };
  const unreachable = err.code === 'ECONNREFUSED' || /ECONNREFUSED/.test(String(err.message));
  console.error(
    unreachable
      ? 'seed: nothing answers at the sandbox endpoint; start it with scripts/sandbox/ensure-services.sh'
      : `seed: ${err.name ?? 'Error'}: ${err.message ?? String(e)}`,
  );
  process.exit(1);
});

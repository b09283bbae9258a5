// Running `cdnkit tenants` from the build against a test broker, and reading what it wrote.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { referenceConfig } from '../../../src/config/preset.js';
import type { KitConfigInput } from '../../../src/config/schema.js';
import { installKafka } from '../../../src/local/services/kafka.js';
import { runCommand } from '../../../src/local/process.js';
import { BUILT_CLI } from './config.js';
import { scratchDir } from '../../support/scratch.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A kit config file with these tenants, in a fresh folder that also receives the bundles. */
export function tenantsConfigFile(overrides: Partial<KitConfigInput>): { file: string; dir: string } {
  const dir = scratchDir('cdnkit-tenants-');
  const file = join(dir, 'cdnkit.yaml');
  writeFileSync(file, stringify({ ...referenceConfig, ...overrides }));
  return { file, dir };
}

/** Runs the built CLI; ConfigCommand comes from the harness's Kafka jars, the way a user without kafka-configs.sh on PATH would run it. */
export async function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const libs = await installKafka();
  const { code, stdout, stderr } = await runCommand(process.execPath, [BUILT_CLI, ...args], {
    env: { ...process.env, CDNKIT_KAFKA_BROKERS: '', CDNKIT_KAFKA_CONFIGS: `java -Xmx128m -cp ${join(libs, '*')} kafka.admin.ConfigCommand`, ...env },
  });
  return { code, stdout, stderr };
}

/** Reads a file of KEY=VALUE lines. */
export function readEnvFile(file: string): Record<string, string> {
  return Object.fromEntries(
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line.includes('='))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

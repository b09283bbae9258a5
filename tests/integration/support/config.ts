// Kit configs for tests: the reference preset with overrides (ports, brokers, topics), parsed the
// same way a user's file is, or written to a file for the built CLI.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { kitConfigSchema, type KitConfig, type KitConfigInput } from '../../../src/config/schema.js';
import { referenceConfig } from '../../../src/config/preset.js';
import { builtCli } from '../../../src/package-root.js';
import { scratchDir } from '../../support/scratch.js';

type Overrides = { [K in keyof KitConfigInput]?: KitConfigInput[K] };

/** The built CLI (npm run build). */
export const BUILT_CLI = builtCli();

export function referenceKit(overrides: Overrides = {}): KitConfig {
  return kitConfigSchema.parse({ ...referenceConfig, ...overrides });
}

/** Writes a kit config file: the reference preset with the test's overrides. */
export function writeKitConfig(overrides: Overrides): string {
  const file = join(scratchDir('cdnkit-config-'), 'cdnkit.yaml');
  writeFileSync(file, stringify({ ...referenceConfig, ...overrides }));
  return file;
}

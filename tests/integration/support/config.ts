// Kit configs for tests: the reference preset with overrides (ports, brokers, topics), parsed the
// same way a user's file is.
import { kitConfigSchema, type KitConfig, type KitConfigInput } from '../../../src/config/schema.js';
import { referenceConfig } from '../../../src/config/preset.js';

type Overrides = { [K in keyof KitConfigInput]?: KitConfigInput[K] };

export function referenceKit(overrides: Overrides = {}): KitConfig {
  return kitConfigSchema.parse({ ...referenceConfig, ...overrides });
}

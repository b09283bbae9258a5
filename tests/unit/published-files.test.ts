// Files committed for users (the starter config, the JSON Schema editors load) must match what the
// code produces today; regenerate them with the commands in the messages.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { starterConfig } from '../../src/config/init.js';
import { configJsonSchema } from '../../src/cli/commands.js';

describe('published files', () => {
  it('cdnkit.example.yaml is the current starter (cdnkit init -o cdnkit.example.yaml --force)', () => {
    expect(readFileSync('cdnkit.example.yaml', 'utf8')).toBe(starterConfig('cdnkit.example.yaml'));
  });

  it('schema/cdnkit.schema.json is the current schema (cdnkit schema > schema/cdnkit.schema.json)', () => {
    expect(JSON.parse(readFileSync('schema/cdnkit.schema.json', 'utf8'))).toEqual(configJsonSchema());
  });
});

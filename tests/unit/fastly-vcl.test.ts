import { describe, expect, it } from 'vitest';
import { GeneratorError } from '../../generators/artifact.js';
import { checkFastly, FASTLY_STRING_VALUE_MAX, FASTLY_STRING_VALUE_MIN, fastlyLogSnippet, fastlyStringCuts } from '../../generators/fastly-vcl.js';
import { referenceConfig } from '../../src/config/preset.js';
import { kitConfigSchema } from '../../src/config/schema.js';

/** A Fastly config with `count` string fields in the error JSON. */
const withStrings = (count: number) =>
  kitConfigSchema.parse({
    product: 'api',
    cdn: { flavours: ['fastly'] },
    fields: [
      { name: 'elapsed_time', type: 'integer', roles: ['field'], fastly: 'std.atoi(time.elapsed.msec)' },
      ...Array.from({ length: count }, (_, i) => ({ name: `header_${i}`, roles: ['log'], fastly: `req.http.H${i}` })),
    ],
  });

describe('Fastly generator: line length', () => {
  it('the reference config fits', () => {
    expect(checkFastly(kitConfigSchema.parse(referenceConfig))).toEqual([]);
  });

  it('string values share the line: more of them, shorter cuts, never above the maximum', () => {
    const cuts = [1, 10, 20, 40, 60].map((n) => fastlyStringCuts(withStrings(n)).json);
    expect(cuts[0]).toBe(FASTLY_STRING_VALUE_MAX);
    for (let i = 1; i < cuts.length; i++) expect(cuts[i]!).toBeLessThan(cuts[i - 1]!);
    expect(Math.min(...cuts)).toBeGreaterThanOrEqual(FASTLY_STRING_VALUE_MIN);
  });

  it('refuses a config of many string fields, naming each of them, and writes no snippet for it', () => {
    const config = withStrings(80);
    const problems = checkFastly(config);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ severity: 'error', path: ['fields'] });
    for (let i = 0; i < 80; i++) expect(problems[0]!.message).toMatch(new RegExp(`\\bheader_${i}\\b`));
    expect(() => fastlyLogSnippet(config)).toThrow(GeneratorError);
  });
});

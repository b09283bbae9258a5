import { describe, expect, it } from 'vitest';
import { generateVarnish, varnishFormats, varnishVcl } from '../../generators/varnish.js';
import { fieldViews, logKeyOf } from '../../src/config/model.js';
import { referenceConfig } from '../../src/config/preset.js';
import { kitConfigSchema, type KitConfigInput } from '../../src/config/schema.js';

const reference = kitConfigSchema.parse(referenceConfig);
const kit = (fields: KitConfigInput['fields']) => kitConfigSchema.parse({ product: 'api', cdn: { flavours: ['varnish'] }, fields });

describe('Varnish generator', () => {
  it('writes the same files for the same config', () => {
    expect(generateVarnish(reference)).toEqual(generateVarnish(kitConfigSchema.parse(referenceConfig)));
    expect(generateVarnish(reference).map((a) => a.path)).toEqual([
      'varnish/cdnkit.vcl',
      'varnish/cdnkit-logs.format',
      'varnish/cdnkit-metrics.format',
      'varnish/cdnkit-varnishncsa.sh',
      'varnish/example.vcl',
    ]);
  });

  it('writes nothing when the config has no varnish flavour', () => {
    expect(generateVarnish(kitConfigSchema.parse({ ...referenceConfig, cdn: { flavours: ['fastly'] } }))).toEqual([]);
  });

  it('puts the log keys in the JSON format in declaration order, numbers unquoted', () => {
    const format = varnishFormats(reference).logs.split('\n')[0]!;
    const keys = [...format.matchAll(/"([A-Za-z0-9_-]+)":/g)].map((m) => m[1]);
    expect(keys).toEqual(fieldViews(reference).log.map(logKeyOf));
    expect(format).toContain('"resp_status":%{VCL_Log:cdnkit_json_resp_status}x,');
    expect(format).toContain('"elapsed_time":%{ms}T,');
  });

  it('keeps the format on the first line of a format file, the only one varnishncsa reads', () => {
    const { metrics } = varnishFormats(reference);
    expect(metrics.split('\n')[0]).toBe(
      'cdnmetrics,product=api,environment=prod,cache_status=%{Varnish:handling}x,info_state=%{Varnish:handling}x%{VCL_Log:cdnkit_tags}x elapsed_time=%{ms}Ti,time_to_first_byte=%{Varnish:time_firstbyte}x %{usec}t%{VCL_Log:cdnkit_seq}x',
    );
  });

  it('defines only the helper subs it calls (varnishd refuses a VCL with an unused sub)', () => {
    const onlyTag = kit([
      { name: 'api_name', roles: ['tag'], varnish: 'req.http.API-Name' },
      { name: 'elapsed_time', type: 'integer', roles: ['field'], varnish: { ncsa: '%{ms}T' } },
    ]);
    for (const vcl of [varnishVcl(reference), varnishVcl(onlyTag)]) {
      const defined = [...vcl.matchAll(/^sub (cdnkit_\w+)/gm)].map((m) => m[1]!);
      for (const sub of defined.filter((s) => s !== 'cdnkit_log')) expect(vcl, sub).toContain(`call ${sub};`);
    }
    expect(varnishVcl(onlyTag)).not.toContain('sub cdnkit_json_string');
  });

  it('refuses a varnishncsa tag it cannot make line-protocol safe', () => {
    const config = kit([
      { name: 'seen_at', type: 'timestamp', roles: ['tag'], allowHighCardinality: true, varnish: { ncsa: '%t' } },
      { name: 'elapsed_time', type: 'integer', roles: ['field'], varnish: { ncsa: '%{ms}T' } },
    ]);
    expect(() => generateVarnish(config)).toThrow(/cannot make %t safe/);
  });

  it('refuses a tag set longer than a VSL record', () => {
    const tags = Array.from({ length: 70 }, (_, i) => ({ name: `tag_${i}`, roles: ['tag' as const], varnish: `req.http.T${i}` }));
    const config = kit([...tags, { name: 'elapsed_time', type: 'integer', roles: ['field'], varnish: { ncsa: '%{ms}T' } }]);
    expect(() => generateVarnish(config)).toThrow(/vsl_reclen/);
  });
});

// Varnish: VCL cleans every value that comes from a VCL expression and std.log()s it; two
// varnishncsa formats put those records together with what only varnishncsa knows (timings,
// bytes) into one JSON line per error and one line-protocol point per request; a script runs
// varnishncsa and ships the lines to the receivers.
//
// What this rests on, in Varnish 7.1 (tests/integration/varnish.test.ts runs it for real):
// - varnishncsa -j escapes every %-value for a JSON string (\" \\ \uXXXX) and passes UTF-8 through,
//   but prints \v (not JSON) and passes invalid UTF-8 too: the VCL removes both.
// - A tag value never contains a backslash (normaliseTagValue), so -j changes no tag; without -j
//   varnishncsa would double backslashes anyway.
// - %{VCL_Log:key}x prints the first record with that key, trimmed of white space, or nothing.
// - A record longer than vsl_reclen is cut, and every regsub that matches copies its result into
//   the client workspace: values are cut to a bounded size first, and the script says which
//   varnishd parameters this needs.
import type { Field, FieldType, KitConfig } from '../src/config/schema.js';
import { NCSA_SAFE_TAGS, type Check } from '../src/config/checks.js';
import { fieldViews, kitValue, logKeyOf } from '../src/config/model.js';
import { escapeStringField } from '../src/ilp/line-protocol.js';
import { refuseOnErrors, type Artifact } from './artifact.js';
import { generatedBanner, render } from './render.js';

/** Longest JSON (and ILP string field) value, in bytes; a longer one is cut. */
export const VARNISH_STRING_MAX_BYTES = 2048;
/** Longest tag value, in bytes: longer ones are not grouping keys but identifiers. */
export const VARNISH_TAG_MAX_BYTES = 128;

/** The std.log keys cdnkit.vcl writes and the formats read. */
const RECORDS = {
  tags: 'cdnkit_tags',
  fields: 'cdnkit_fields',
  json: (field: Field) => `cdnkit_json_${logKeyOf(field)}`,
  ilpString: (field: Field) => `cdnkit_ilp_${field.name}`,
  /** The timestamp's last three digits: the request's vxid mod 1000, zero-padded. */
  discriminator: 'cdnkit_seq',
  /** With tenants: the tenant id, the first word of every line, which the edge producer routes by. */
  tenant: 'cdnkit_tenant',
};

/** Longest tenant id read: longer than any valid one (49), so a cut never makes an invalid id valid. */
const TENANT_MAX_BYTES = 64;

/** The longest VSL record varnishd keeps (its vsl_reclen parameter); cdnkit.vcl's must fit. */
const VSL_RECLEN_BYTES = 8192;

/** varnishd parameters the generated files need, each with the reason; the script lists them. */
export const VARNISHD_PARAMS = [
  {
    param: `vsl_reclen=${VSL_RECLEN_BYTES / 1024}k`,
    why: [
      `cdnkit.vcl logs values of up to ${VARNISH_STRING_MAX_BYTES} bytes, and all tags in one record; the default`,
      '255-byte records would cut them, and a cut tag set makes an invalid ILP line.',
    ],
  },
  {
    param: 'workspace_client=128k',
    why: ['cleaning a value copies it in the client workspace; running out fails the request.'],
  },
  {
    param: 'http_req_hdr_len=16k',
    why: [
      'optional: varnishd answers 400 to a longer header line before any VCL runs, and varnishncsa -j',
      'does not log such requests at all (it skips transactions with HttpGarbage).',
    ],
  },
];

/** The backend example.vcl points at; replace it with your origin. */
export const EXAMPLE_BACKEND = { host: '127.0.0.1', port: 8080 };

type NumberType = 'integer' | 'float' | 'boolean';

/**
 * What a valid value of each non-string type looks like, as VCL regexes: also valid JSON and ILP
 * (no leading zeros, integers within 64 bits, floats finite). Anything else is `null` in the
 * JSON and left out of the ILP line.
 */
const NUMBER_PATTERNS: Record<NumberType, string> = {
  integer: '^-?(0|[1-9][0-9]{0,17})$',
  float: '^-?(0|[1-9][0-9]{0,29})([.][0-9]{1,30})?([eE][-+]?[0-9]{1,2})?$',
  boolean: '^(true|false)$',
};

/** Longer than any valid number, so a cut never makes an invalid one valid. */
const NUMBER_MAX_BYTES = 67;

/** ILP suffix of each number type. */
const ILP_SUFFIX: Record<NumberType, string> = { integer: 'i', float: '', boolean: '' };

function isNumberType(type: FieldType): type is NumberType {
  return type in NUMBER_PATTERNS;
}

type Source = { kind: 'kit'; value: string } | { kind: 'vcl'; expression: string } | { kind: 'ncsa'; specifier: string };

function sourceOf(field: Field, config: KitConfig): Source {
  const constant = kitValue(field, config);
  if (constant !== undefined) return { kind: 'kit', value: constant };
  const varnish = field.varnish;
  if (varnish === undefined) throw new Error(`field "${field.name}" has no varnish source`);
  if (typeof varnish === 'string') return { kind: 'vcl', expression: varnish };
  return 'vcl' in varnish ? { kind: 'vcl', expression: varnish.vcl } : { kind: 'ncsa', specifier: varnish.ncsa };
}

const vclLog = (record: string) => `%{VCL_Log:${record}}x`;

/** One VCL expression cdnkit_log evaluates, cleans with `clean` and uses. */
interface VclValue {
  name: string;
  expression: string;
  /** Bytes read of the value: the cut comes first, as every later copy costs workspace. */
  limit: number;
  /** The helper sub that cleans (strings) or checks (numbers) the value. */
  clean: string;
  record?: string;
  /** A number: the VCL has checked it, and "" means invalid. */
  number: boolean;
  /** For numbers in the ILP line: the text after the value. */
  suffix?: string;
}

/** How cdnkit.vcl reads a field's value for one use: how much of it, and which helper cleans it. */
function vclValue(field: Field, expression: string, use: 'json' | 'tag' | 'ilp', record?: string): VclValue {
  const name = use === 'json' ? logKeyOf(field) : field.name;
  if (use === 'tag') return { name, expression, limit: VARNISH_TAG_MAX_BYTES, clean: 'cdnkit_tag_value', number: false };
  const type = field.type;
  if (isNumberType(type)) return { name, expression, limit: NUMBER_MAX_BYTES, clean: `cdnkit_${type}`, number: true, suffix: ILP_SUFFIX[type], record };
  return { name, expression, limit: VARNISH_STRING_MAX_BYTES, clean: use === 'json' ? 'cdnkit_json_string' : 'cdnkit_ilp_string', number: false, record };
}

interface Plan {
  json: VclValue[];
  tags: VclValue[];
  ilpStrings: VclValue[];
  ilpNumbers: VclValue[];
  logsFormat: string;
  metricsFormat: string;
  /** varnishncsa -q for the metrics script; undefined = every request. */
  metricsQuery: string | undefined;
  problems: Check[];
}

function plan(config: KitConfig): Plan {
  const views = fieldViews(config);
  const problems: Check[] = [];
  const json: VclValue[] = [];
  const jsonParts = views.log.map((field) => {
    const key = JSON.stringify(logKeyOf(field));
    const source = sourceOf(field, config);
    const quote = isNumberType(field.type) ? '' : '"';
    switch (source.kind) {
      case 'kit':
        return `${key}:${JSON.stringify(source.value)}`;
      case 'ncsa':
        return `${key}:${quote}${source.specifier}${quote}`;
      case 'vcl':
        json.push(vclValue(field, source.expression, 'json', RECORDS.json(field)));
        return `${key}:${quote}${vclLog(RECORDS.json(field))}${quote}`;
    }
  });

  const tags: VclValue[] = [];
  let inlineTags = '';
  for (const field of views.tags) {
    const source = sourceOf(field, config);
    if (source.kind === 'vcl') tags.push(vclValue(field, source.expression, 'tag'));
    else if (source.kind === 'kit') inlineTags += `,${field.name}=${source.value}`;
    else if (isNcsaSafeTag(field, source.specifier)) inlineTags += `,${field.name}=${source.specifier}`;
    else {
      problems.push({
        severity: 'error',
        path: ['fields', config.fields.indexOf(field), 'varnish', 'ncsa'],
        message: `tag "${field.name}": varnishncsa cannot make ${source.specifier} safe for line protocol; give it a VCL expression, or use one of ${[...NCSA_SAFE_TAGS].join(' ')}`,
      });
    }
  }

  const ilpStrings: VclValue[] = [];
  const ilpNumbers: VclValue[] = [];
  const inlineFields: string[] = [];
  for (const field of views.metricFields) {
    const source = sourceOf(field, config);
    const number = isNumberType(field.type) ? field.type : undefined;
    if (source.kind === 'kit') inlineFields.push(`${field.name}=${escapeStringField(source.value)}`);
    else if (source.kind === 'ncsa') inlineFields.push(`${field.name}=${number ? `${source.specifier}${ILP_SUFFIX[number]}` : `"${source.specifier}"`}`);
    else if (number) ilpNumbers.push(vclValue(field, source.expression, 'ilp'));
    else {
      // -j escapes `"` and `\` in the value exactly as an ILP string field needs.
      ilpStrings.push(vclValue(field, source.expression, 'ilp', RECORDS.ilpString(field)));
      inlineFields.push(`${field.name}="${vclLog(RECORDS.ilpString(field))}"`);
    }
  }
  // Numbers the VCL found valid arrive as one record of ",key=value" items, after the inline fields.
  // Without inline fields the VCL drops the first comma and a request with no valid number has no
  // record: varnishncsa then skips it, as InfluxDB could not store a point without fields.
  const numbersRecord = ilpNumbers.length > 0 ? vclLog(RECORDS.fields) : '';
  const fields = inlineFields.join(',') + numbersRecord;
  const metricsQuery = inlineFields.length === 0 ? `VCL_Log:${RECORDS.fields}` : undefined;
  const tagsRecord = tags.length > 0 ? vclLog(RECORDS.tags) : '';

  problems.push(...checkRecordLengths(json, tags, ilpStrings, ilpNumbers));
  const tenant = config.tenants ? `${vclLog(RECORDS.tenant)} ` : '';
  return {
    json,
    tags,
    ilpStrings,
    ilpNumbers,
    logsFormat: `${tenant}{${jsonParts.join(',')}}`,
    // Nanoseconds: microseconds, then the request's vxid mod 1000, so that two requests of one
    // series in the same microsecond stay two points (InfluxDB keeps one per series and time).
    metricsFormat: `${tenant}${config.metrics.measurement}${inlineTags}${tagsRecord} ${fields} %{usec}t${vclLog(RECORDS.discriminator)}`,
    metricsQuery,
    problems,
  };
}

/** Refuses a config whose cdnkit.vcl could log a record that varnishd would cut (dozens of tags), naming what is in it. */
function checkRecordLengths(json: VclValue[], tags: VclValue[], ilpStrings: VclValue[], ilpNumbers: VclValue[]): Check[] {
  const sum = (lengths: number[]) => lengths.reduce((a, b) => a + b, 0);
  const records = [
    ...[...json, ...ilpStrings].map((v) => ({ what: `the record of "${v.name}"`, names: [v.name], bytes: `${v.record}:`.length + VARNISH_STRING_MAX_BYTES })),
    { what: 'the record of all VCL tags', names: tags.map((t) => t.name), bytes: `${RECORDS.tags}:`.length + sum(tags.map((t) => `,${t.name}=`.length + VARNISH_TAG_MAX_BYTES)) },
    {
      what: 'the record of all VCL number fields',
      names: ilpNumbers.map((n) => n.name),
      bytes: `${RECORDS.fields}:`.length + sum(ilpNumbers.map((n) => `,${n.name}=`.length + NUMBER_MAX_BYTES + 1)),
    },
  ];
  return records
    .filter((r) => r.bytes > VSL_RECLEN_BYTES)
    .map((r) => ({
      severity: 'error' as const,
      path: ['fields'],
      message: `Varnish: ${r.what} (${r.names.join(', ')}) could be ${r.bytes} bytes, more than vsl_reclen (${VSL_RECLEN_BYTES}), and varnishd would cut it; declare fewer of them`,
    }));
}

/** A varnishncsa value as a tag: only values that are always ILP-safe tokens (checks.ts agrees for strings). */
function isNcsaSafeTag(field: Field, specifier: string): boolean {
  return NCSA_SAFE_TAGS.has(specifier) || isNumberType(field.type);
}

/** What the Varnish files cannot do for this config; empty when they generate. */
export function checkVarnish(config: KitConfig): Check[] {
  return config.cdn.flavours.includes('varnish') ? plan(config).problems : [];
}

export function varnishVcl(config: KitConfig): string {
  const p = plan(config);
  refuseOnErrors(p.problems);
  const values = [...p.json, ...p.tags, ...p.ilpStrings, ...p.ilpNumbers];
  const cleaners = new Set(values.map((v) => v.clean));
  const jsonString = cleaners.has('cdnkit_json_string') || cleaners.has('cdnkit_ilp_string');
  const tagValue = cleaners.has('cdnkit_tag_value');
  return render('varnish/cdnkit.vcl.hbs', {
    banner: generatedBanner('#'),
    limits: { string: VARNISH_STRING_MAX_BYTES, tag: VARNISH_TAG_MAX_BYTES },
    missing: config.metrics.missingTagValue,
    records: { tags: RECORDS.tags, fields: RECORDS.fields, discriminator: RECORDS.discriminator, tenant: RECORDS.tenant },
    tenant: config.tenants ? { expression: config.tenants.varnish, limit: TENANT_MAX_BYTES } : false,
    needs: {
      utf8: jsonString || tagValue,
      jsonString,
      tagValue,
      ilpString: cleaners.has('cdnkit_ilp_string'),
    },
    numberChecks: (Object.keys(NUMBER_PATTERNS) as NumberType[])
      .filter((type) => cleaners.has(`cdnkit_${type}`))
      .map((type) => ({ type, pattern: NUMBER_PATTERNS[type] })),
    json: p.json,
    tags: p.tags,
    ilpStrings: p.ilpStrings,
    ilpNumbers: p.ilpNumbers,
    numbersAreFirst: p.metricsQuery !== undefined,
  });
}

export function varnishFormats(config: KitConfig): { logs: string; metrics: string } {
  const p = plan(config);
  refuseOnErrors(p.problems);
  // varnishncsa reads only the first line of a format file: the comment goes after it.
  const withComment = (format: string, what: string) =>
    render('varnish/format.hbs', { format, what, banner: generatedBanner('#') });
  return {
    logs: withComment(p.logsFormat, `one JSON line per response with status >= ${config.errors.minStatus}`),
    metrics: withComment(p.metricsFormat, 'one InfluxDB line-protocol point per request'),
  };
}

function varnishncsaScript(config: KitConfig): string {
  return render('varnish/cdnkit-varnishncsa.sh.hbs', {
    banner: generatedBanner('#'),
    minStatus: config.errors.minStatus,
    receivers: config.receivers,
    metricsQuery: plan(config).metricsQuery,
    params: VARNISHD_PARAMS,
  });
}

function exampleVcl(): string {
  return render('varnish/example.vcl.hbs', { banner: generatedBanner('#'), backend: EXAMPLE_BACKEND });
}

export function generateVarnish(config: KitConfig): Artifact[] {
  if (!config.cdn.flavours.includes('varnish')) return [];
  const formats = varnishFormats(config);
  return [
    {
      path: 'varnish/cdnkit.vcl',
      content: varnishVcl(config),
      description: 'VCL to include: `call cdnkit_log;` in vcl_deliver and vcl_synth logs the cleaned values for varnishncsa',
    },
    {
      path: 'varnish/cdnkit-logs.format',
      content: formats.logs,
      description: `varnishncsa -j format: one JSON line per response with status >= ${config.errors.minStatus}`,
    },
    {
      path: 'varnish/cdnkit-metrics.format',
      content: formats.metrics,
      description: `varnishncsa -j format: one ${config.metrics.measurement} ILP line per request`,
    },
    {
      path: 'varnish/cdnkit-varnishncsa.sh',
      content: varnishncsaScript(config),
      description: `runs varnishncsa and ships its lines to the receivers: \`cdnkit-varnishncsa.sh logs|metrics\` (TCP ${config.receivers.logsPort} / ${config.receivers.metricsPort})`,
      mode: 0o755,
    },
    {
      path: 'varnish/example.vcl',
      content: exampleVcl(),
      description: 'a minimal complete VCL 4.1 that includes cdnkit.vcl; copy the include and the two calls into yours',
    },
  ];
}

// Fastly: a `vcl_log` snippet that logs errors as one line of JSON and every request as one
// line-protocol point, through Fastly's syslog endpoints.
//
// falco (the Fastly VCL linter and simulator the tests run it in) has a json.escape() that leaves
// `"` and `\` alone, so the snippet escapes by hand with std.replaceall, which both agree on.
// Numbers pass through typed locals: a field declared integer whose expression is not an INTEGER
// is refused by the VCL compiler instead of writing text into a number's place.
import type { Field, KitConfig } from '../src/config/schema.js';
import { fieldViews, kitValue, logKeyOf } from '../src/config/model.js';
import { escapeKey, escapeStringField, normaliseTagValue } from '../src/ilp/line-protocol.js';
import type { Artifact } from './artifact.js';
import { generatedBanner, render } from './render.js';

/** Longest JSON string value, in characters; keeps a line under Fastly's and falco's 16 KB. */
export const FASTLY_JSON_VALUE_MAX = 1024;
/** Longest tag value, in characters: longer ones are not grouping keys but identifiers. */
export const FASTLY_TAG_VALUE_MAX = 128;

type Kind = 'constant' | 'string' | 'integer' | 'float' | 'boolean';

interface Step {
  key: string;
  kind: Kind;
  /** VCL string literal of the key with its leading separator. */
  keyLiteral: string;
  valueLiteral?: string;
  expression?: string;
  /** For strings: how the value is read so that an unset header is "" rather than "(null)". */
  read?: string;
  /** The typed local a number goes through. */
  local?: 'i' | 'f';
}

/** A VCL "…" literal: `%` and `"` are written as percent escapes, which Fastly decodes in such strings. */
export function vclString(text: string): string {
  return `"${text.replace(/%/g, '%25').replace(/"/g, '%22')}"`;
}

const HEADER = /^(req|resp|bereq|beresp|obj)\.http\.[A-Za-z0-9_-]+$/;

/** Unset headers concatenate as "(null)" on Fastly; other expressions are never NULL. */
function readAsString(expression: string): string {
  return HEADER.test(expression) ? `if(${expression}, ${expression}, "")` : `"" ${expression}`;
}

function kindOf(field: Field, config: KitConfig, forTag: boolean): Kind {
  if (kitValue(field, config) !== undefined) return 'constant';
  if (forTag) return 'string';
  switch (field.type) {
    case 'integer':
    case 'float':
    case 'boolean':
      return field.type;
    default:
      return 'string';
  }
}

function step(field: Field, config: KitConfig, key: string, keyLiteral: string, forTag: boolean, constant: (value: string) => string): Step {
  const kind = kindOf(field, config, forTag);
  if (kind === 'constant') return { key, kind, keyLiteral, valueLiteral: vclString(constant(kitValue(field, config)!)) };
  const expression = field.fastly!;
  const local = kind === 'integer' ? 'i' : kind === 'float' ? 'f' : undefined;
  return { key, kind, keyLiteral, expression, read: readAsString(expression), ...(local ? { local } : {}) };
}

export function fastlyLogSnippet(config: KitConfig): string {
  const views = fieldViews(config);
  const json = views.log.map((field, i) => {
    const key = logKeyOf(field);
    return step(field, config, key, vclString(`${i === 0 ? '' : ','}"${key}":`), false, (v) => JSON.stringify(v));
  });
  const tags = views.tags.map((field) =>
    step(field, config, field.name, vclString(`,${escapeKey(field.name)}=`), true, (v) => escapeKey(normaliseTagValue(v, config.metrics.missingTagValue))),
  );
  const fields = views.metricFields.map((field, i) =>
    step(field, config, field.name, vclString(`${i === 0 ? ' ' : ','}${escapeKey(field.name)}=`), false, escapeStringField),
  );
  const used = new Set([...json, ...fields].map((s) => s.kind));
  const locals = [
    { name: 'json', type: 'STRING', needed: json.length > 0 },
    { name: 'ilp', type: 'STRING', needed: true },
    { name: 's', type: 'STRING', needed: used.has('string') || tags.some((t) => t.kind === 'string') },
    { name: 'i', type: 'INTEGER', needed: used.has('integer') },
    { name: 'f', type: 'FLOAT', needed: used.has('float') },
    { name: 'b', type: 'BOOL', needed: used.has('boolean') },
  ].filter((l) => l.needed);

  return render('fastly/cdnkit_log.vcl.hbs', {
    ...config,
    banner: generatedBanner('#'),
    limits: { json: FASTLY_JSON_VALUE_MAX, tag: FASTLY_TAG_VALUE_MAX },
    missingLiteral: vclString(config.metrics.missingTagValue),
    measurementLiteral: vclString(config.metrics.measurement),
    locals,
    json,
    tags,
    fields,
  });
}

export function generateFastly(config: KitConfig): Artifact[] {
  if (!config.cdn.flavours.includes('fastly')) return [];
  return [
    {
      path: 'fastly/cdnkit_log.vcl',
      content: fastlyLogSnippet(config),
      description: `Fastly VCL snippet (type "log"): errors as JSON -> ${config.cdn.fastly.logsEndpoint}, every request as ILP -> ${config.cdn.fastly.metricsEndpoint}`,
    },
  ];
}

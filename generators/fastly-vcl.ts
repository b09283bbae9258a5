// Fastly: a `vcl_log` snippet that logs errors as one line of JSON and every request as one
// line-protocol point, through Fastly's syslog endpoints.
//
// falco (the Fastly VCL linter and simulator the tests run it in) has a json.escape() that leaves
// `"` and `\` alone, so the snippet escapes by hand with std.replaceall, which both agree on.
// Numbers pass through typed locals: a field declared integer whose expression is not an INTEGER
// is refused by the VCL compiler instead of writing text into a number's place.
import type { Check } from '../src/config/checks.js';
import type { Field, KitConfig } from '../src/config/schema.js';
import { fieldViews, kitValue, logKeyOf } from '../src/config/model.js';
import { escapeKey, escapeStringField, normaliseTagValue } from '../src/ilp/line-protocol.js';
import { refuseOnErrors, type Artifact } from './artifact.js';
import { generatedBanner, render } from './render.js';

/**
 * Fastly's longest log line, in bytes, `syslog <service> <endpoint> :: ` included; falco refuses a
 * longer one too (its MaxLogLineSize, from Fastly's documented resource limits).
 */
export const FASTLY_LOG_LINE_MAX_BYTES = 16 * 1024;
/** Longest string value (JSON, ILP string field), in characters, when the line has room for it. */
export const FASTLY_STRING_VALUE_MAX = 1024;
/** A line whose string values would have to be cut shorter than this is refused: too many fields. */
export const FASTLY_STRING_VALUE_MIN = 64;
/** Longest tag value, in characters: longer ones are not grouping keys but identifiers. */
export const FASTLY_TAG_VALUE_MAX = 128;

/** A character after escaping, at worst: four UTF-8 bytes (an escaped ASCII one takes two). */
const WORST_BYTES_PER_CHAR = 4;
/** Fastly service ids are 22 characters; falco's stand-in is 24. */
const SERVICE_ID_MAX = 32;
/** Longest text of a number: an INTEGER (-9223372036854775808), a FLOAT printed with 3 decimals (-DBL_MAX), a BOOL. */
const NUMBER_TEXT_MAX = { integer: 20, float: 314, boolean: 5 } as const;
/** " " and time.end.usec (16 digits until the year 2286) and the 3-digit discriminator. */
const TIMESTAMP_TEXT_MAX = 1 + 16 + 3;

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
  /** Bytes this step adds to the line at most, but for a string's characters (counted by the line's cut). */
  fixedBytes: number;
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

const bytes = (text: string) => Buffer.byteLength(text, 'utf8');

function step(field: Field, config: KitConfig, key: string, keyText: string, forTag: boolean, constant: (value: string) => string): Step {
  const kind = kindOf(field, config, forTag);
  const keyLiteral = vclString(keyText);
  if (kind === 'constant') {
    const value = constant(kitValue(field, config)!);
    return { key, kind, keyLiteral, valueLiteral: vclString(value), fixedBytes: bytes(keyText) + bytes(value) };
  }
  const expression = field.fastly!;
  const local = kind === 'integer' ? 'i' : kind === 'float' ? 'f' : undefined;
  // A number's text and one byte more (an integer's "i" in the ILP line): a bound for either line.
  // A string's characters are counted by its line's cut.
  const valueBytes = kind === 'string' ? 0 : NUMBER_TEXT_MAX[kind] + 1;
  return { key, kind, keyLiteral, expression, read: readAsString(expression), ...(local ? { local } : {}), fixedBytes: bytes(keyText) + valueBytes };
}

/** What the snippet's two lines are made of, and how long their string values may be. */
interface Plan {
  json: Step[];
  tags: Step[];
  fields: Step[];
  /** Characters a JSON string value, and an ILP string field, are cut at. */
  cuts: { json: number; ilp: number };
  problems: Check[];
}

/**
 * Each line must fit FASTLY_LOG_LINE_MAX_BYTES at worst: every string at its cut, every character
 * four bytes. The string values of a line share what its fixed parts leave, up to
 * FASTLY_STRING_VALUE_MAX characters each; a line that cannot give each FASTLY_STRING_VALUE_MIN is refused.
 */
function lineCut(line: 'error JSON' | 'metrics', endpoint: string, body: number, steps: Step[], advice: string): { cut: number; problem?: Check } {
  const prefix = bytes(`syslog ${'x'.repeat(SERVICE_ID_MAX)} ${endpoint} :: `);
  const fixed = prefix + body + steps.reduce((sum, s) => sum + s.fixedBytes, 0);
  const strings = steps.filter((s) => s.kind === 'string');
  const room = FASTLY_LOG_LINE_MAX_BYTES - fixed - 2 * strings.length;
  const cut = strings.length === 0 ? FASTLY_STRING_VALUE_MAX : Math.min(FASTLY_STRING_VALUE_MAX, Math.floor(room / (WORST_BYTES_PER_CHAR * strings.length)));
  if (room >= 0 && cut >= FASTLY_STRING_VALUE_MIN) return { cut };
  const worst = fixed + strings.length * (2 + FASTLY_STRING_VALUE_MIN * WORST_BYTES_PER_CHAR);
  const parts = strings.length > 0 ? `its ${strings.length} string values (${strings.map((s) => s.key).join(', ')})` : `its ${steps.length} keys (${steps.map((s) => s.key).join(', ')})`;
  return {
    cut,
    problem: {
      severity: 'error',
      path: ['fields'],
      message: `Fastly: the ${line} line could reach ${worst} bytes (${parts} at ${FASTLY_STRING_VALUE_MIN} characters of up to ${WORST_BYTES_PER_CHAR} bytes each), more than Fastly's ${FASTLY_LOG_LINE_MAX_BYTES}-byte log line; ${advice}`,
    },
  };
}

function plan(config: KitConfig): Plan {
  const views = fieldViews(config);
  const json = views.log.map((field, i) => {
    const key = logKeyOf(field);
    return step(field, config, key, `${i === 0 ? '' : ','}"${key}":`, false, (v) => JSON.stringify(v));
  });
  const tags = views.tags.map((field) => {
    const tag = step(field, config, field.name, `,${escapeKey(field.name)}=`, true, (v) => escapeKey(normaliseTagValue(v, config.metrics.missingTagValue)));
    // Tags have their own cut, short enough for every line: they count as fixed.
    if (tag.kind === 'string') tag.fixedBytes += Math.max(FASTLY_TAG_VALUE_MAX * WORST_BYTES_PER_CHAR, bytes(config.metrics.missingTagValue));
    return tag;
  });
  const fields = views.metricFields.map((field, i) =>
    step(field, config, field.name, `${i === 0 ? ' ' : ','}${escapeKey(field.name)}=`, false, escapeStringField),
  );
  const { logsEndpoint, metricsEndpoint } = config.cdn.fastly;
  const jsonCut = lineCut('error JSON', logsEndpoint, bytes('{}'), json, 'take fields out of the "log" role');
  const ilpCut = lineCut('metrics', metricsEndpoint, bytes(config.metrics.measurement) + TIMESTAMP_TEXT_MAX, [...tags, ...fields], 'take fields out of the "tag" and "field" roles');
  return {
    json,
    tags,
    fields,
    cuts: { json: jsonCut.cut, ilp: ilpCut.cut },
    problems: [jsonCut.problem, ilpCut.problem].filter((p) => p !== undefined),
  };
}

/** What the Fastly snippet cannot do for this config; empty when it generates. */
export function checkFastly(config: KitConfig): Check[] {
  return config.cdn.flavours.includes('fastly') ? plan(config).problems : [];
}

/** The characters each string value is cut at, for this config. */
export function fastlyStringCuts(config: KitConfig): { json: number; ilp: number } {
  return plan(config).cuts;
}

export function fastlyLogSnippet(config: KitConfig): string {
  const p = plan(config);
  refuseOnErrors(p.problems);
  const { json, tags, fields } = p;
  const used = new Set([...json, ...fields].map((s) => s.kind));
  const locals = [
    { name: 'json', type: 'STRING', needed: json.length > 0 },
    { name: 'ilp', type: 'STRING', needed: true },
    { name: 's', type: 'STRING', needed: used.has('string') || tags.some((t) => t.kind === 'string') },
    { name: 'i', type: 'INTEGER', needed: used.has('integer') },
    { name: 'f', type: 'FLOAT', needed: used.has('float') },
    { name: 'b', type: 'BOOL', needed: used.has('boolean') },
    { name: 'seq', type: 'INTEGER', needed: true },
  ].filter((l) => l.needed);

  return render('fastly/cdnkit_log.vcl.hbs', {
    ...config,
    banner: generatedBanner('#'),
    limits: { json: p.cuts.json, ilp: p.cuts.ilp, tag: FASTLY_TAG_VALUE_MAX, line: FASTLY_LOG_LINE_MAX_BYTES },
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

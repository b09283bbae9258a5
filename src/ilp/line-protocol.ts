// InfluxDB line protocol, parsed strictly and written canonically.
//
//   measurement[,tag=value...] field=value[,field=value...] [timestamp]
//
// The rules follow the published spec and, where the spec is loose, what InfluxDB's own parser
// does — the bridge must reject exactly what InfluxDB would reject, or a bad line poisons a batch:
// - measurement: `\,` and `\ ` are escapes; tag keys, tag values and field keys also `\=`.
//   A backslash before any other character is literal (InfluxDB 2.7 stores `a\\b` as two
//   backslashes), and a text ending in a backslash is refused. Tag values written by cdnkit never
//   hold a backslash (normaliseTagValue).
// - string field values: `\"` and `\\` are escapes, other backslashes are literal.
// - integers end in `i` (signed 64-bit), unsigned integers in `u`, floats have no suffix.
// - a tag value or key may not be empty; a line needs at least one field.

export type IlpFieldValue =
  | { type: 'float'; value: number }
  | { type: 'integer'; value: bigint }
  | { type: 'uinteger'; value: bigint }
  | { type: 'string'; value: string }
  | { type: 'boolean'; value: boolean };

export interface IlpPoint {
  measurement: string;
  tags: Record<string, string>;
  fields: Record<string, IlpFieldValue>;
  /** Nanoseconds since the epoch unless the writer says otherwise; absent means "server time". */
  timestamp?: bigint;
}

export class IlpSyntaxError extends Error {
  constructor(
    readonly reason: string,
    /** 1-based position in the line where the problem was found. */
    readonly column: number,
  ) {
    super(`line protocol: ${reason} (at column ${column})`);
    this.name = 'IlpSyntaxError';
  }
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const FLOAT = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;
const TRUE = new Set(['t', 'T', 'true', 'True', 'TRUE']);
const FALSE = new Set(['f', 'F', 'false', 'False', 'FALSE']);

/** Parses one line. Throws IlpSyntaxError naming what is wrong and where. */
export function parseLine(line: string): IlpPoint {
  const scanner = new Scanner(line);
  scanner.skipSpaces();
  const measurement = scanner.token(false, 'measurement', MEASUREMENT_ESCAPES);
  const tags: Record<string, string> = {};
  while (scanner.peek() === ',') {
    scanner.pos++;
    const key = scanner.token(true, 'tag key', KEY_ESCAPES);
    scanner.expect('=', 'after tag key', key);
    const value = scanner.token(false, 'value of tag', KEY_ESCAPES, key);
    if (key in tags) scanner.fail(`duplicate tag key "${key}"`);
    checkKey(key, 'tag', scanner);
    tags[key] = value;
  }
  if (scanner.peek() !== ' ') scanner.fail('expected a space before the fields');
  scanner.skipSpaces();

  const fields: Record<string, IlpFieldValue> = {};
  for (;;) {
    const key = scanner.token(true, 'field key', KEY_ESCAPES);
    scanner.expect('=', 'after field key', key);
    if (key in fields) scanner.fail(`duplicate field key "${key}"`);
    checkKey(key, 'field', scanner);
    if (key in tags) scanner.fail(`"${key}" is both a tag and a field`);
    fields[key] = scanner.fieldValue(key);
    if (scanner.peek() !== ',') break;
    scanner.pos++;
  }

  let timestamp: bigint | undefined;
  if (scanner.peek() === ' ') {
    scanner.skipSpaces();
    if (!scanner.atEnd()) {
      const start = scanner.pos;
      const digits = scanner.rest();
      if (!/^-?\d+$/.test(digits)) scanner.failAt(start, `timestamp must be an integer, got "${digits.slice(0, 40)}"`);
      timestamp = BigInt(digits);
      if (timestamp < INT64_MIN || timestamp > INT64_MAX) scanner.failAt(start, 'timestamp out of the signed 64-bit range');
      scanner.pos = line.length;
    }
  }
  if (!scanner.atEnd()) scanner.fail(`unexpected "${line.slice(scanner.pos, scanner.pos + 20)}" after the fields`);
  return { measurement, tags, fields, ...(timestamp === undefined ? {} : { timestamp }) };
}

function checkKey(key: string, what: string, scanner: Scanner): void {
  if (key.startsWith('_')) scanner.fail(`${what} key "${key}" starts with "_", which InfluxDB reserves`);
  if (key === 'time') scanner.fail(`"time" cannot be a ${what} key`);
}

const MEASUREMENT_ESCAPES = new Set([',', ' ']);
const [BACKSLASH, LF, CR, COMMA, SPACE, EQUALS] = ['\\', '\n', '\r', ',', ' ', '='].map((c) => c.charCodeAt(0));
const KEY_ESCAPES = new Set([',', ' ', '=']);

class Scanner {
  pos = 0;
  constructor(private readonly line: string) {}

  peek(): string | undefined {
    return this.line[this.pos];
  }
  atEnd(): boolean {
    return this.pos >= this.line.length;
  }
  rest(): string {
    return this.line.slice(this.pos);
  }
  skipSpaces(): void {
    while (this.line[this.pos] === ' ') this.pos++;
  }
  /** Error text is built only on failure: this runs for every key of every line. */
  expect(char: string, where: string, key: string): void {
    if (this.line[this.pos] !== char) this.fail(`expected "${char}" ${where} "${key}"`);
    this.pos++;
  }
  fail(reason: string): never {
    throw new IlpSyntaxError(reason, this.pos + 1);
  }
  failAt(pos: number, reason: string): never {
    throw new IlpSyntaxError(reason, pos + 1);
  }

  /**
   * Reads up to an unescaped `,` or space (and `=` when `stopAtEquals`); backslash-escapes in
   * `escapes` are undone. `what` names the token in errors; `of` the key it belongs to.
   */
  token(stopAtEquals: boolean, what: string, escapes: Set<string>, of?: string): string {
    const start = this.pos;
    const line = this.line;
    // Most tokens hold no backslash: find the stop and slice, without building a string.
    let end = start;
    for (; end < line.length; end++) {
      const c = line.charCodeAt(end);
      if (c === BACKSLASH || c === LF || c === CR) break;
      if (c === COMMA || c === SPACE || (stopAtEquals && c === EQUALS)) {
        if (end === start) break;
        this.pos = end;
        return line.slice(start, end);
      }
    }
    if (end === line.length && end > start) {
      this.pos = end;
      return line.slice(start, end);
    }
    return this.escapedToken(stopAtEquals, of === undefined ? what : `${what} "${of}"`, escapes);
  }

  private escapedToken(stopAtEquals: boolean, what: string, escapes: Set<string>): string {
    const start = this.pos;
    let out = '';
    const line = this.line;
    while (this.pos < line.length) {
      const c = line[this.pos]!;
      if (c === '\\' && this.pos + 1 < line.length) {
        const next = line[this.pos + 1]!;
        out += escapes.has(next) ? next : c + next;
        this.pos += 2;
        continue;
      }
      if (c === ',' || c === ' ' || (stopAtEquals && c === '=')) break;
      if (c === '\n' || c === '\r') this.fail(`a raw line break in the ${what}`);
      out += c;
      this.pos++;
    }
    if (out.length === 0) this.failAt(start, `empty ${what}`);
    // InfluxDB refuses a key or tag value whose text ends in a backslash ("invalid tag format"),
    // even as `\\\\`; the measurement is read the same way.
    if (line[this.pos - 1] === '\\') this.fail(`${what} ends in a backslash, which InfluxDB refuses`);
    return out;
  }

  fieldValue(key: string): IlpFieldValue {
    const start = this.pos;
    if (this.peek() === '"') return { type: 'string', value: this.quoted(key) };
    while (this.pos < this.line.length && this.line[this.pos] !== ',' && this.line[this.pos] !== ' ') this.pos++;
    const raw = this.line.slice(start, this.pos);
    if (raw.length === 0) this.failAt(start, `field "${key}" has no value`);
    const last = raw[raw.length - 1];
    if (last === 'i' || last === 'u') {
      const digits = raw.slice(0, -1);
      if (!/^-?\d+$/.test(digits)) this.failAt(start, `field "${key}": "${raw}" is not an integer`);
      const value = BigInt(digits);
      if (last === 'i') {
        if (value < INT64_MIN || value > INT64_MAX) this.failAt(start, `field "${key}": ${raw} is out of the signed 64-bit range`);
        return { type: 'integer', value };
      }
      if (value < 0n || value > UINT64_MAX) this.failAt(start, `field "${key}": ${raw} is out of the unsigned 64-bit range`);
      return { type: 'uinteger', value };
    }
    if (TRUE.has(raw)) return { type: 'boolean', value: true };
    if (FALSE.has(raw)) return { type: 'boolean', value: false };
    if (!FLOAT.test(raw)) this.failAt(start, `field "${key}": ${JSON.stringify(raw.slice(0, 40))} is not a number, boolean or quoted string`);
    const value = Number(raw);
    if (!Number.isFinite(value)) this.failAt(start, `field "${key}": ${raw} is out of the float range`);
    return { type: 'float', value };
  }

  private quoted(key: string): string {
    const start = this.pos;
    this.pos++;
    let out = '';
    const line = this.line;
    while (this.pos < line.length) {
      const c = line[this.pos]!;
      if (c === '\\' && (line[this.pos + 1] === '"' || line[this.pos + 1] === '\\')) {
        out += line[this.pos + 1];
        this.pos += 2;
        continue;
      }
      if (c === '"') {
        this.pos++;
        return out;
      }
      out += c;
      this.pos++;
    }
    this.failAt(start, `field "${key}": string value has no closing quote`);
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

/**
 * What a tag value becomes on the way into line protocol, on every CDN flavour alike: control
 * characters, `"`, `\\`, space, `,` and `=` become "_", and an unset or empty value becomes `missing`.
 * Tag values are identifiers for grouping, so nothing is lost that matters, and a tag value never
 * needs a backslash — which matters because parsers disagree on literal backslashes in tags and
 * varnishncsa doubles every backslash it prints. An empty tag value would invalidate the line.
 * The VCL generators implement this same function; tests hold them to it.
 */
export const TAG_VALUE_UNSAFE = /[\u0000-\u001f\u007f"\\ ,=]/g;

export function normaliseTagValue(value: string | undefined | null, missing: string): string {
  if (value === undefined || value === null || value === '') return missing;
  return value.replace(TAG_VALUE_UNSAFE, '_');
}

export function escapeMeasurement(name: string): string {
  return name.replace(/[, ]/g, '\\$&');
}

/** For tag keys, tag values and field keys. */
export function escapeKey(text: string): string {
  return text.replace(/[,= ]/g, '\\$&');
}

export function escapeStringField(text: string): string {
  return `"${text.replace(/[\\"]/g, '\\$&')}"`;
}

export function formatFieldValue(field: IlpFieldValue): string {
  switch (field.type) {
    case 'float':
      return Number.isInteger(field.value) ? field.value.toFixed(1) : String(field.value);
    case 'integer':
      return `${field.value}i`;
    case 'uinteger':
      return `${field.value}u`;
    case 'string':
      return escapeStringField(field.value);
    case 'boolean':
      return field.value ? 'true' : 'false';
  }
}

/** Writes a point canonically; tag values must already be normalised. */
export function formatLine(point: IlpPoint): string {
  const tags = Object.entries(point.tags).map(([k, v]) => `,${escapeKey(k)}=${escapeKey(v)}`).join('');
  const fields = Object.entries(point.fields).map(([k, v]) => `${escapeKey(k)}=${formatFieldValue(v)}`).join(',');
  const time = point.timestamp === undefined ? '' : ` ${point.timestamp}`;
  return `${escapeMeasurement(point.measurement)}${tags} ${fields}${time}`;
}

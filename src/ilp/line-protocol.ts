// InfluxDB line protocol, parsed strictly and written canonically.
//
//   measurement[,tag=value...] field=value[,field=value...] [timestamp]
//
// The rules follow the published spec and, where the spec is loose, what InfluxDB's own parser
// does: the bridge must refuse exactly what influxd refuses to parse (400, which fails the whole
// batch), and nothing it would store. A test holds this parser to a real influxd line by line.
// - measurement: `\,` and `\ ` are escapes; tag keys, tag values and field keys also `\=`.
//   A backslash before any other character is literal (InfluxDB 2.7 stores `a\\b` as two
//   backslashes), and a text ending in a backslash is refused. Tag values written by cdnkit never
//   hold a backslash (normaliseTagValue).
// - string field values: `\"` and `\\` are escapes, other backslashes are literal.
// - integers end in `i` (signed 64-bit), unsigned integers in `u`, floats have no suffix.
// - a tag value or key may not be empty; a line needs at least one field.
// - tag keys are unique, and `_field`, `_measurement` and `time` are reserved for them. Field keys
//   may repeat (the last wins) and may equal a tag key; a field named `time` is dropped by influxd
//   (422 when it is the only one), which the sink handles like any refused point.
// - timestamps lie within ±9223372036854775806 (influxd keeps the int64 extremes for itself).

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

/** Parses one line. Throws IlpSyntaxError naming what is wrong and where. */
export function parseLine(line: string): IlpPoint {
  return new Scanner(line, true).line() as IlpPoint;
}

/**
 * Checks a line exactly as parseLine does (same rules, same errors) without building the point:
 * no strings, numbers or objects per token, so it costs a fraction of parseLine. The bridge
 * validates every line this way. Throws IlpSyntaxError; otherwise tells whether the line carries
 * its own timestamp.
 */
export function checkLine(line: string): { timestamped: boolean } {
  return new Scanner(line, false).line() ? TIMESTAMPED : UNTIMESTAMPED;
}
const TIMESTAMPED = Object.freeze({ timestamped: true });
const UNTIMESTAMPED = Object.freeze({ timestamped: false });

const [BACKSLASH, LF, CR, COMMA, SPACE, EQUALS, QUOTE, UNDERSCORE, MINUS] = ['\\', '\n', '\r', ',', ' ', '=', '"', '_', '-'].map((c) =>
  c.charCodeAt(0),
) as number[];
const isDigit = (c: number) => c >= 48 && c <= 57;
const MEASUREMENT_ESCAPES = new Set([',', ' ']);
const KEY_ESCAPES = new Set([',', ' ', '=']);
/** A float literal, matched in place (sticky) so no substring is cut to test it. */
const FLOAT = /-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?/y;
const EXPONENT = /[eE]/;
const TRUE = new Set(['t', 'T', 'true', 'True', 'TRUE']);
const FALSE = new Set(['f', 'F', 'false', 'False', 'FALSE']);
const INT64_MAX = '9223372036854775807';
const INT64_MIN_ABS = '9223372036854775808';
/** influxd's time range: the int64 extremes (and one more at the top) are its own markers. */
const TIME_MAX = '9223372036854775806';
const RESERVED_TAG_KEYS = ['_field', '_measurement', 'time'];
const UINT64_MAX = '18446744073709551615';

/** Where a key sits in the line; `escaped` when its text differs from the raw characters. */
interface KeySpan {
  start: number;
  end: number;
  escaped: boolean;
}

/**
 * One pass over the line. Every rule is checked on character positions; with `build` the tokens
 * are also turned into the point's strings and values.
 */
class Scanner {
  pos = 0;
  /** Set by name(): whether the name just read held a backslash. */
  private escaped = false;
  private readonly tagKeys: KeySpan[] = [];

  constructor(
    private readonly text: string,
    private readonly build: boolean,
  ) {}

  /** The point when building; otherwise true when the line carries a timestamp. */
  line(): IlpPoint | boolean {
    const line = this.text;
    while (line.charCodeAt(this.pos) === SPACE) this.pos++;
    const measurementStart = this.pos;
    this.name(false, 'measurement');
    const measurementEnd = this.pos;
    const measurementEscaped = this.escaped;

    const tags: Record<string, string> = {};
    while (line.charCodeAt(this.pos) === COMMA) {
      this.pos++;
      const key = this.key('tag key');
      this.expectEquals('after tag key', key);
      const valueStart = this.pos;
      this.name(false, 'value of tag', key);
      if (this.holds(this.tagKeys, key)) this.fail(`duplicate tag key "${this.keyText(key)}"`);
      if (this.reservedTagKey(key)) this.fail(`"${this.keyText(key)}" is a reserved tag key`);
      this.tagKeys.push(key);
      if (this.build) tags[this.keyText(key)] = this.unescape(valueStart, this.pos, this.escaped, KEY_ESCAPES);
    }
    if (line.charCodeAt(this.pos) !== SPACE) this.fail('expected a space before the fields');
    while (line.charCodeAt(this.pos) === SPACE) this.pos++;

    const fields: Record<string, IlpFieldValue> = {};
    for (;;) {
      const key = this.key('field key');
      this.expectEquals('after field key', key);
      const value = this.fieldValue(key);
      if (this.build) fields[this.keyText(key)] = value!;
      if (line.charCodeAt(this.pos) !== COMMA) break;
      this.pos++;
    }

    let timestamp: bigint | undefined;
    let timestamped = false;
    if (line.charCodeAt(this.pos) === SPACE) {
      while (line.charCodeAt(this.pos) === SPACE) this.pos++;
      if (this.pos < line.length) {
        const start = this.pos;
        if (!this.integerAt(start, line.length)) this.failAt(start, `timestamp must be an integer, got "${line.slice(start, start + 40)}"`);
        if (!this.digitsAtMost(line.charCodeAt(start) === MINUS ? start + 1 : start, line.length, TIME_MAX)) {
          this.failAt(start, `timestamp outside influxd's range -${TIME_MAX} to ${TIME_MAX}`);
        }
        timestamped = true;
        if (this.build) timestamp = BigInt(line.slice(start));
        this.pos = line.length;
      }
    }
    if (this.pos < line.length) this.fail(`unexpected "${line.slice(this.pos, this.pos + 20)}" after the fields`);
    if (!this.build) return timestamped;
    const measurement = this.unescape(measurementStart, measurementEnd, measurementEscaped, MEASUREMENT_ESCAPES);
    return { measurement, tags, fields, ...(timestamp === undefined ? {} : { timestamp }) };
  }

  private fail(reason: string): never {
    throw new IlpSyntaxError(reason, this.pos + 1);
  }
  private failAt(pos: number, reason: string): never {
    throw new IlpSyntaxError(reason, pos + 1);
  }

  private key(what: string): KeySpan {
    const start = this.pos;
    this.name(true, what);
    return { start, end: this.pos, escaped: this.escaped };
  }

  /** Error text is built only on failure: this runs for every key of every line. */
  private expectEquals(where: string, key: KeySpan): void {
    if (this.text.charCodeAt(this.pos) !== EQUALS) this.fail(`expected "=" ${where} "${this.keyText(key)}"`);
    this.pos++;
  }

  /**
   * Reads a measurement, key or tag value: up to an unescaped `,` or space (and `=` when
   * `stopAtEquals`). A backslash takes the next character's special meaning away; `of` names the
   * key a value belongs to, in errors.
   */
  private name(stopAtEquals: boolean, what: string, of?: KeySpan): void {
    const line = this.text;
    const start = this.pos;
    this.escaped = false;
    let pos = start;
    for (; pos < line.length; pos++) {
      const c = line.charCodeAt(pos);
      if (c === BACKSLASH) {
        this.escaped = true;
        if (pos + 1 < line.length) pos++;
        continue;
      }
      if (c === COMMA || c === SPACE || (stopAtEquals && c === EQUALS)) break;
      if (c === LF || c === CR) {
        this.pos = pos;
        this.fail(`a raw line break in the ${this.named(what, of)}`);
      }
    }
    this.pos = pos;
    if (pos === start) this.failAt(start, `empty ${this.named(what, of)}`);
    // InfluxDB refuses a key or tag value whose text ends in a backslash ("invalid tag format"),
    // even as `\\\\`; the measurement is read the same way.
    if (line.charCodeAt(pos - 1) === BACKSLASH) this.fail(`${this.named(what, of)} ends in a backslash, which InfluxDB refuses`);
  }

  private named(what: string, of: KeySpan | undefined): string {
    return of === undefined ? what : `${what} "${this.keyText(of)}"`;
  }

  private keyText(key: KeySpan): string {
    return this.unescape(key.start, key.end, key.escaped, KEY_ESCAPES);
  }

  /** The raw text minus the escapes in `escapes`; a backslash before anything else stays. */
  private unescape(start: number, end: number, escaped: boolean, escapes: Set<string>): string {
    const line = this.text;
    if (!escaped) return line.slice(start, end);
    let out = '';
    for (let pos = start; pos < end; pos++) {
      const c = line[pos]!;
      if (c === '\\' && pos + 1 < end) {
        const next = line[++pos]!;
        out += escapes.has(next) ? next : c + next;
      } else out += c;
    }
    return out;
  }

  /** A loop rather than `some`: no closure per key of every line. */
  private holds(keys: KeySpan[], key: KeySpan): boolean {
    for (const other of keys) if (this.sameKey(other, key)) return true;
    return false;
  }

  private sameKey(a: KeySpan, b: KeySpan): boolean {
    if (a.escaped || b.escaped) return this.keyText(a) === this.keyText(b);
    const length = a.end - a.start;
    if (length !== b.end - b.start) return false;
    for (let i = 0; i < length; i++) if (this.text.charCodeAt(a.start + i) !== this.text.charCodeAt(b.start + i)) return false;
    return true;
  }

  /** No escape makes a `_` or a letter, so the raw characters decide. */
  private reservedTagKey(key: KeySpan): boolean {
    for (const reserved of RESERVED_TAG_KEYS) if (key.end - key.start === reserved.length && this.text.startsWith(reserved, key.start)) return true;
    return false;
  }

  /** An optional minus and at least one digit, nothing else, between start and end. */
  private integerAt(start: number, end: number): boolean {
    const first = this.text.charCodeAt(start) === MINUS ? start + 1 : start;
    if (first >= end) return false;
    for (let pos = first; pos < end; pos++) if (!isDigit(this.text.charCodeAt(pos))) return false;
    return true;
  }

  /** Compares unsigned decimal digits with a limit as text: a range check without a BigInt. */
  private digitsAtMost(start: number, end: number, limit: string): boolean {
    let first = start;
    while (first < end - 1 && this.text.charCodeAt(first) === 48) first++;
    const length = end - first;
    if (length !== limit.length) return length < limit.length;
    return this.text.slice(first, end) <= limit;
  }

  private withinInt64(start: number, end: number): boolean {
    const negative = this.text.charCodeAt(start) === MINUS;
    return this.digitsAtMost(negative ? start + 1 : start, end, negative ? INT64_MIN_ABS : INT64_MAX);
  }

  private fieldValue(key: KeySpan): IlpFieldValue | undefined {
    const line = this.text;
    const start = this.pos;
    if (line.charCodeAt(start) === QUOTE) return this.quoted(key);
    let end = start;
    while (end < line.length && line.charCodeAt(end) !== COMMA && line.charCodeAt(end) !== SPACE) end++;
    this.pos = end;
    if (end === start) this.failAt(start, `${this.fieldName(key)} has no value`);
    const suffix = line[end - 1];
    if (suffix === 'i' || suffix === 'u') {
      if (!this.integerAt(start, end - 1)) this.failAt(start, `${this.fieldName(key)}: "${line.slice(start, end)}" is not an integer`);
      if (suffix === 'i') {
        if (!this.withinInt64(start, end - 1)) this.failAt(start, `${this.fieldName(key)}: ${line.slice(start, end)} is out of the signed 64-bit range`);
        return this.build ? { type: 'integer', value: BigInt(line.slice(start, end - 1)) } : undefined;
      }
      if (line.charCodeAt(start) === MINUS || !this.digitsAtMost(start, end - 1, UINT64_MAX)) {
        this.failAt(start, `${this.fieldName(key)}: ${line.slice(start, end)} is out of the unsigned 64-bit range`);
      }
      return this.build ? { type: 'uinteger', value: BigInt(line.slice(start, end - 1)) } : undefined;
    }
    FLOAT.lastIndex = start;
    if (!FLOAT.test(line) || FLOAT.lastIndex !== end) {
      const raw = line.slice(start, end);
      if (TRUE.has(raw)) return this.build ? { type: 'boolean', value: true } : undefined;
      if (FALSE.has(raw)) return this.build ? { type: 'boolean', value: false } : undefined;
      this.failAt(start, `${this.fieldName(key)}: ${JSON.stringify(raw.slice(0, 40))} is not a number, boolean or quoted string`);
    }
    // Only an exponent or hundreds of digits can take a double out of range.
    if (this.build || end - start > 300 || EXPONENT.test(line.slice(start, end))) {
      const value = Number(line.slice(start, end));
      if (!Number.isFinite(value)) this.failAt(start, `${this.fieldName(key)}: ${line.slice(start, end)} is out of the float range`);
      return { type: 'float', value };
    }
    return undefined;
  }

  private fieldName(key: KeySpan): string {
    return `field "${this.keyText(key)}"`;
  }

  /** A string field: `\"` and `\\` are escapes, any other backslash is literal. */
  private quoted(key: KeySpan): IlpFieldValue | undefined {
    const line = this.text;
    const start = this.pos;
    let out = '';
    for (let pos = start + 1; pos < line.length; pos++) {
      const c = line.charCodeAt(pos);
      if (c === BACKSLASH && (line.charCodeAt(pos + 1) === QUOTE || line.charCodeAt(pos + 1) === BACKSLASH)) {
        if (this.build) out += line[pos + 1];
        pos++;
        continue;
      }
      if (c === QUOTE) {
        this.pos = pos + 1;
        return this.build ? { type: 'string', value: out } : undefined;
      }
      if (this.build) out += line[pos];
    }
    this.failAt(start, `${this.fieldName(key)}: string value has no closing quote`);
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

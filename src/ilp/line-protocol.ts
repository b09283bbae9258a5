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
  return scanner.scan(line, true) as IlpPoint;
}

/**
 * Checks a line exactly as parseLine does (same rules, same errors) without building the point:
 * no strings, numbers or objects per token, so it costs a fraction of parseLine. The bridge
 * validates every line this way. Throws IlpSyntaxError; otherwise tells whether the line carries
 * its own timestamp.
 */
export function checkLine(line: string): { timestamped: boolean } {
  return scanner.scan(line, false) ? TIMESTAMPED : UNTIMESTAMPED;
}
const TIMESTAMPED = Object.freeze({ timestamped: true });
const UNTIMESTAMPED = Object.freeze({ timestamped: false });

const code = (c: string) => c.charCodeAt(0);
const [BACKSLASH, LF, CR, COMMA, SPACE, EQUALS, QUOTE] = [code('\\'), code('\n'), code('\r'), code(','), code(' '), code('='), code('"')];
const [MINUS, PLUS, DOT, LOWER_E, UPPER_E, LOWER_I, LOWER_U] = [code('-'), code('+'), code('.'), code('e'), code('E'), code('i'), code('u')];
const isDigit = (c: number) => c >= 48 && c <= 57;
const MEASUREMENT_ESCAPES = new Set([',', ' ']);
const KEY_ESCAPES = new Set([',', ' ', '=']);
const TRUE = new Set(['t', 'T', 'true', 'True', 'TRUE']);
const FALSE = new Set(['f', 'F', 'false', 'False', 'FALSE']);
const INT64_MAX = '9223372036854775807';
const INT64_MIN_ABS = '9223372036854775808';
/** influxd's time range: the int64 extremes (and one more at the top) are its own markers. */
const TIME_MAX = '9223372036854775806';
const RESERVED_TAG_KEYS = ['_field', '_measurement', 'time'];
const UINT64_MAX = '18446744073709551615';
/** What floatAt finds: a float literal, `-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?`, with or without exponent. */
const NOT_A_FLOAT = 0;
const FLOAT = 1;
const FLOAT_WITH_EXPONENT = 2;

/**
 * One pass over the line. Every rule is checked on character positions; with `build` the tokens
 * are also turned into the point's strings and values. One scanner serves every line (a scan
 * runs to its end or throws before the next starts), so a line costs no objects of its own: keys
 * are positions in the line, the tag keys seen so far positions in arrays kept from line to line.
 */
class Scanner {
  private text = '';
  private build = false;
  private pos = 0;
  /** Set by name(): whether the name just read held a backslash. */
  private escaped = false;
  /** The key just read (key()): where it sits in the line, and whether its text differs from the raw characters. */
  private keyStart = 0;
  private keyEnd = 0;
  private keyEscaped = false;
  /** The line's tag keys so far, as the key fields above. */
  private tagStarts = new Int32Array(32);
  private tagEnds = new Int32Array(32);
  private tagEscaped = new Uint8Array(32);
  private tagCount = 0;

  /** The point when building; otherwise true when the line carries a timestamp. */
  scan(text: string, build: boolean): IlpPoint | boolean {
    this.text = text;
    this.build = build;
    this.pos = 0;
    this.tagCount = 0;
    const line = text;
    while (line.charCodeAt(this.pos) === SPACE) this.pos++;
    const measurementStart = this.pos;
    this.name(false, 'measurement', false);
    const measurementEnd = this.pos;
    const measurementEscaped = this.escaped;

    const tags: Record<string, string> | undefined = build ? {} : undefined;
    while (line.charCodeAt(this.pos) === COMMA) {
      this.pos++;
      this.key('tag key');
      this.expectEquals('after tag key');
      const valueStart = this.pos;
      this.name(false, 'value of tag', true);
      if (this.seenTagKey()) this.fail(`duplicate tag key "${this.keyText()}"`);
      if (this.reservedTagKey()) this.fail(`"${this.keyText()}" is a reserved tag key`);
      this.addTagKey();
      if (tags) tags[this.keyText()] = this.unescape(valueStart, this.pos, this.escaped, KEY_ESCAPES);
    }
    if (line.charCodeAt(this.pos) !== SPACE) this.fail('expected a space before the fields');
    while (line.charCodeAt(this.pos) === SPACE) this.pos++;

    const fields: Record<string, IlpFieldValue> | undefined = build ? {} : undefined;
    for (;;) {
      this.key('field key');
      this.expectEquals('after field key');
      const value = this.fieldValue();
      if (fields) fields[this.keyText()] = value!;
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
        if (build) timestamp = BigInt(line.slice(start));
        this.pos = line.length;
      }
    }
    if (this.pos < line.length) this.fail(`unexpected "${line.slice(this.pos, this.pos + 20)}" after the fields`);
    if (!build) return timestamped;
    const measurement = this.unescape(measurementStart, measurementEnd, measurementEscaped, MEASUREMENT_ESCAPES);
    return { measurement, tags: tags!, fields: fields!, ...(timestamp === undefined ? {} : { timestamp }) };
  }

  private fail(reason: string): never {
    throw new IlpSyntaxError(reason, this.pos + 1);
  }
  private failAt(pos: number, reason: string): never {
    throw new IlpSyntaxError(reason, pos + 1);
  }

  private key(what: string): void {
    const start = this.pos;
    this.name(true, what, false);
    this.keyStart = start;
    this.keyEnd = this.pos;
    this.keyEscaped = this.escaped;
  }

  /** Error text is built only on failure: this runs for every key of every line. */
  private expectEquals(where: string): void {
    if (this.text.charCodeAt(this.pos) !== EQUALS) this.fail(`expected "=" ${where} "${this.keyText()}"`);
    this.pos++;
  }

  /**
   * Reads a measurement, key or tag value: up to an unescaped `,` or space (and `=` when
   * `stopAtEquals`). A backslash takes the next character's special meaning away; `ofKey` says
   * the text is the value of the key just read, which errors name.
   */
  private name(stopAtEquals: boolean, what: string, ofKey: boolean): void {
    const line = this.text;
    const length = line.length;
    const start = this.pos;
    this.escaped = false;
    let pos = start;
    for (; pos < length; pos++) {
      const c = line.charCodeAt(pos);
      // Every character that means something here but the backslash sorts below `=`: letters,
      // `_` and the rest go on at one comparison.
      if (c > EQUALS && c !== BACKSLASH) continue;
      if (c === BACKSLASH) {
        this.escaped = true;
        if (pos + 1 < length) pos++;
        continue;
      }
      if (c === COMMA || c === SPACE || (stopAtEquals && c === EQUALS)) break;
      if (c === LF || c === CR) {
        this.pos = pos;
        this.fail(`a raw line break in the ${this.named(what, ofKey)}`);
      }
    }
    this.pos = pos;
    if (pos === start) this.failAt(start, `empty ${this.named(what, ofKey)}`);
    // InfluxDB refuses a key or tag value whose text ends in a backslash ("invalid tag format"),
    // even as `\\\\`; the measurement is read the same way.
    if (line.charCodeAt(pos - 1) === BACKSLASH) this.fail(`${this.named(what, ofKey)} ends in a backslash, which InfluxDB refuses`);
  }

  private named(what: string, ofKey: boolean): string {
    return ofKey ? `${what} "${this.keyText()}"` : what;
  }

  /** The key just read, as text. */
  private keyText(): string {
    return this.unescape(this.keyStart, this.keyEnd, this.keyEscaped, KEY_ESCAPES);
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

  private addTagKey(): void {
    if (this.tagCount === this.tagStarts.length) {
      const grown = <T extends Int32Array | Uint8Array>(from: T, to: T): T => (to.set(from), to);
      this.tagStarts = grown(this.tagStarts, new Int32Array(this.tagCount * 2));
      this.tagEnds = grown(this.tagEnds, new Int32Array(this.tagCount * 2));
      this.tagEscaped = grown(this.tagEscaped, new Uint8Array(this.tagCount * 2));
    }
    this.tagStarts[this.tagCount] = this.keyStart;
    this.tagEnds[this.tagCount] = this.keyEnd;
    this.tagEscaped[this.tagCount] = this.keyEscaped ? 1 : 0;
    this.tagCount++;
  }

  /** Whether the key just read is among the line's tag keys so far. */
  private seenTagKey(): boolean {
    const line = this.text;
    const start = this.keyStart;
    const length = this.keyEnd - start;
    for (let i = 0; i < this.tagCount; i++) {
      const otherStart = this.tagStarts[i]!;
      const otherEnd = this.tagEnds[i]!;
      if (this.keyEscaped || this.tagEscaped[i]) {
        if (this.unescape(otherStart, otherEnd, true, KEY_ESCAPES) === this.keyText()) return true;
        continue;
      }
      if (otherEnd - otherStart !== length) continue;
      let same = true;
      for (let j = 0; j < length && same; j++) same = line.charCodeAt(otherStart + j) === line.charCodeAt(start + j);
      if (same) return true;
    }
    return false;
  }

  /** No escape makes a `_` or a letter, so the raw characters decide. */
  private reservedTagKey(): boolean {
    const length = this.keyEnd - this.keyStart;
    for (const reserved of RESERVED_TAG_KEYS) if (length === reserved.length && this.text.startsWith(reserved, this.keyStart)) return true;
    return false;
  }

  /** An optional minus and at least one digit, nothing else, between start and end. */
  private integerAt(start: number, end: number): boolean {
    const first = this.text.charCodeAt(start) === MINUS ? start + 1 : start;
    if (first >= end) return false;
    for (let pos = first; pos < end; pos++) if (!isDigit(this.text.charCodeAt(pos))) return false;
    return true;
  }

  /** Compares unsigned decimal digits with a limit as text, digit by digit: a range check without a BigInt or a substring. */
  private digitsAtMost(start: number, end: number, limit: string): boolean {
    let first = start;
    while (first < end - 1 && this.text.charCodeAt(first) === 48) first++;
    const length = end - first;
    if (length !== limit.length) return length < limit.length;
    for (let i = 0; i < length; i++) {
      const difference = this.text.charCodeAt(first + i) - limit.charCodeAt(i);
      if (difference !== 0) return difference < 0;
    }
    return true;
  }

  private withinInt64(start: number, end: number): boolean {
    const negative = this.text.charCodeAt(start) === MINUS;
    return this.digitsAtMost(negative ? start + 1 : start, end, negative ? INT64_MIN_ABS : INT64_MAX);
  }

  /** What the text between start and end is: NOT_A_FLOAT, FLOAT or FLOAT_WITH_EXPONENT. */
  private floatAt(start: number, end: number): number {
    const line = this.text;
    let pos = line.charCodeAt(start) === MINUS ? start + 1 : start;
    let digits = 0;
    while (pos < end && isDigit(line.charCodeAt(pos))) pos++, digits++;
    if (pos < end && line.charCodeAt(pos) === DOT) {
      pos++;
      while (pos < end && isDigit(line.charCodeAt(pos))) pos++, digits++;
    }
    if (digits === 0) return NOT_A_FLOAT;
    if (pos === end) return FLOAT;
    const e = line.charCodeAt(pos);
    if (e !== LOWER_E && e !== UPPER_E) return NOT_A_FLOAT;
    pos++;
    if (line.charCodeAt(pos) === MINUS || line.charCodeAt(pos) === PLUS) pos++;
    const exponentStart = pos;
    while (pos < end && isDigit(line.charCodeAt(pos))) pos++;
    return pos === end && pos > exponentStart ? FLOAT_WITH_EXPONENT : NOT_A_FLOAT;
  }

  /** The value of the field key just read. */
  private fieldValue(): IlpFieldValue | undefined {
    const line = this.text;
    const start = this.pos;
    if (line.charCodeAt(start) === QUOTE) return this.quoted();
    let end = start;
    for (let c = line.charCodeAt(end); end < line.length && c !== COMMA && c !== SPACE; c = line.charCodeAt(++end));
    this.pos = end;
    if (end === start) this.failAt(start, `${this.fieldName()} has no value`);
    const suffix = line.charCodeAt(end - 1);
    if (suffix === LOWER_I || suffix === LOWER_U) {
      if (!this.integerAt(start, end - 1)) this.failAt(start, `${this.fieldName()}: "${line.slice(start, end)}" is not an integer`);
      if (suffix === LOWER_I) {
        if (!this.withinInt64(start, end - 1)) this.failAt(start, `${this.fieldName()}: ${line.slice(start, end)} is out of the signed 64-bit range`);
        return this.build ? { type: 'integer', value: BigInt(line.slice(start, end - 1)) } : undefined;
      }
      if (line.charCodeAt(start) === MINUS || !this.digitsAtMost(start, end - 1, UINT64_MAX)) {
        this.failAt(start, `${this.fieldName()}: ${line.slice(start, end)} is out of the unsigned 64-bit range`);
      }
      return this.build ? { type: 'uinteger', value: BigInt(line.slice(start, end - 1)) } : undefined;
    }
    const float = this.floatAt(start, end);
    if (float === NOT_A_FLOAT) {
      const raw = line.slice(start, end);
      if (TRUE.has(raw)) return this.build ? { type: 'boolean', value: true } : undefined;
      if (FALSE.has(raw)) return this.build ? { type: 'boolean', value: false } : undefined;
      this.failAt(start, `${this.fieldName()}: ${JSON.stringify(raw.slice(0, 40))} is not a number, boolean or quoted string`);
    }
    // Only an exponent or hundreds of digits can take a double out of range.
    if (this.build || end - start > 300 || float === FLOAT_WITH_EXPONENT) {
      const value = Number(line.slice(start, end));
      if (!Number.isFinite(value)) this.failAt(start, `${this.fieldName()}: ${line.slice(start, end)} is out of the float range`);
      return { type: 'float', value };
    }
    return undefined;
  }

  private fieldName(): string {
    return `field "${this.keyText()}"`;
  }

  /** A string field: `\"` and `\\` are escapes, any other backslash is literal. */
  private quoted(): IlpFieldValue | undefined {
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
    this.failAt(start, `${this.fieldName()}: string value has no closing quote`);
  }
}

const scanner = new Scanner();

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

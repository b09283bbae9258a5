// The lines a generated edge sends for a request, built from the config's fields with the same
// escaping and normalisation the generators use: one line-protocol point for every request, then
// one line of error JSON when the status is at or above errors.minStatus.
import { fieldViews, kitValue, logKeyOf } from '../config/model.js';
import type { Field, KitConfig } from '../config/schema.js';
import { escapeKey, escapeMeasurement, escapeStringField, formatFieldValue, normaliseTagValue } from '../ilp/line-protocol.js';
import { isoSeconds, type FieldValue, type SimRequest } from './model.js';

export type LogType = 'logs' | 'metrics';
/** Fastly's syslog message formats: Blank sends the bare line, Classic a syslog header first. */
export type SyslogFormat = 'blank' | 'classic';

/**
 * Nanoseconds, as the edges write them: time.end.usec followed by three digits of a per-request
 * discriminator (the sequence number modulo 1000), so requests of one series that end in the same
 * microsecond stay distinct points in InfluxDB.
 */
export function ilpTimestamp(endUs: number, seq: number): string {
  return `${endUs}${String(seq % 1000).padStart(3, '0')}`;
}

type Part = (values: FieldValue[]) => string;
/** Distinct values of one tag kept escaped; a tag with more (a badly chosen one) is still correct. */
const TAG_CACHE_LIMIT = 10_000;

export class EdgeLines {
  private readonly minStatus: number;
  private readonly head: string;
  private readonly tags: Part[];
  private readonly fields: Part[];
  private readonly json: Part[];

  constructor(private readonly config: KitConfig) {
    const views = fieldViews(config);
    const index = (field: Field) => config.fields.indexOf(field);
    const missing = config.metrics.missingTagValue;
    this.minStatus = config.errors.minStatus;
    this.head = escapeMeasurement(config.metrics.measurement);

    this.tags = views.tags.map((field) => {
      const key = `,${escapeKey(field.name)}=`;
      const constant = kitValue(field, config);
      if (constant !== undefined) {
        const text = key + escapeKey(normaliseTagValue(constant, missing));
        return () => text;
      }
      const i = index(field);
      // Tag values repeat (that is what tags are for): each distinct one is escaped once.
      const written = new Map<FieldValue, string>();
      return (values) => {
        const value = values[i];
        let text = written.get(value);
        if (text === undefined) {
          text = key + escapeKey(normaliseTagValue(value === undefined ? undefined : String(value), missing));
          if (written.size >= TAG_CACHE_LIMIT) written.clear();
          written.set(value, text);
        }
        return text;
      };
    });

    this.fields = views.metricFields.map((field, n) => {
      const key = `${n === 0 ? ' ' : ','}${escapeKey(field.name)}=`;
      const constant = kitValue(field, config);
      if (constant !== undefined) {
        const text = key + escapeStringField(constant);
        return () => text;
      }
      const i = index(field);
      switch (field.type) {
        case 'integer':
          return (values) => `${key}${Math.trunc(Number(values[i] ?? 0))}i`;
        case 'float':
          return (values) => key + formatFieldValue({ type: 'float', value: Number(values[i] ?? 0) });
        case 'boolean':
          return (values) => key + formatFieldValue({ type: 'boolean', value: values[i] === true });
        default:
          return (values) => key + escapeStringField(values[i] === undefined ? '' : String(values[i]));
      }
    });

    this.json = views.log.map((field, n) => {
      const key = `${n === 0 ? '' : ','}${JSON.stringify(logKeyOf(field))}:`;
      const constant = kitValue(field, config);
      if (constant !== undefined) {
        const text = key + JSON.stringify(constant);
        return () => text;
      }
      const i = index(field);
      switch (field.type) {
        case 'integer':
          return (values) => key + String(Math.trunc(Number(values[i] ?? 0)));
        case 'float':
          return (values) => key + String(Number(values[i] ?? 0));
        case 'boolean':
          return (values) => key + String(values[i] === true);
        default:
          // Unset or empty strings are JSON null, as in the snippet.
          return (values) => {
            const value = values[i];
            return key + (value === undefined || value === '' ? 'null' : JSON.stringify(String(value)));
          };
      }
    });
  }

  isError(request: SimRequest): boolean {
    return request.status >= this.minStatus;
  }

  metricLine(request: SimRequest): string {
    let line = this.head;
    for (const tag of this.tags) line += tag(request.values);
    for (const field of this.fields) line += field(request.values);
    return `${line} ${ilpTimestamp(request.endUs, request.seq)}`;
  }

  /** The error JSON, or undefined below errors.minStatus. */
  errorJson(request: SimRequest): string | undefined {
    if (!this.isError(request)) return undefined;
    let json = '{';
    for (const part of this.json) json += part(request.values);
    return `${json}}`;
  }

  /**
   * The line as it leaves the edge: bare (Blank) or behind Fastly's Classic syslog header
   * (`<134>time host endpoint[pid]: `), which the bridges strip.
   */
  envelope(format: SyslogFormat, type: LogType, line: string, request: SimRequest): string {
    if (format === 'blank') return line;
    const endpoint = type === 'logs' ? this.config.cdn.fastly.logsEndpoint : this.config.cdn.fastly.metricsEndpoint;
    return `<134>${isoSeconds(request.endUs)} ${request.server} ${endpoint}[${1000 + (request.seq % 9000)}]: ${line}`;
  }
}

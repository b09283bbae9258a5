// Grafana's expansion of macros and template variables, as its InfluxDB, Elasticsearch and
// Prometheus datasources do it before a query leaves Grafana.
import { formatDuration, parseDuration } from '../durations.js';
import { escapeRegex } from '../queries/influxql.js';


export interface TimeRange {
  fromMs: number;
  toMs: number;
}

/** Grafana's kbn.roundInterval: the interval a range / maxDataPoints is rounded to. */
const ROUNDED: [below: number, interval: number][] = [
  [10, 1], [15, 10], [35, 20], [75, 50], [150, 100], [350, 200], [750, 500],
  [1_500, 1_000], [3_500, 2_000], [7_500, 5_000], [12_500, 10_000], [17_500, 15_000], [25_000, 20_000], [45_000, 30_000],
  [90_000, 60_000], [210_000, 120_000], [450_000, 300_000], [750_000, 600_000], [1_050_000, 900_000], [1_500_000, 1_200_000],
  [2_700_000, 1_800_000], [5_400_000, 3_600_000], [9_000_000, 7_200_000], [16_200_000, 10_800_000], [24_300_000, 14_400_000],
  [32_400_000, 21_600_000], [86_400_000, 43_200_000], [604_800_000, 86_400_000], [1_814_400_000, 604_800_000],
];

export function roundInterval(ms: number): number {
  for (const [below, interval] of ROUNDED) if (ms < below) return interval;
  return 2_592_000_000;
}

/** $__interval for a panel: range / maxDataPoints rounded, never below the panel's min interval. */
export function panelIntervalMs(range: TimeRange, maxDataPoints: number, minInterval?: string): number {
  const rounded = roundInterval((range.toMs - range.fromMs) / maxDataPoints);
  return Math.max(rounded, minInterval ? parseDuration(minInterval) : 0);
}

/** The selected values of each template variable. */
export type VariableValues = Record<string, string[]>;

export interface Scope {
  range: TimeRange;
  intervalMs: number;
  variables: VariableValues;
}

/** A multi-value variable in an InfluxQL regex: the values regex-escaped, as (a|b|c). */
export function influxVariable(values: string[]): string {
  const escaped = values.map(escapeRegex);
  return escaped.length === 1 ? escaped[0]! : `(${escaped.join('|')})`;
}

/** A variable in a Lucene query string: quoted, several as ("a" OR "b"). */
export function luceneVariable(values: string[]): string {
  const quoted = values.map((v) => `"${v.replace(/[\\"]/g, '\\$&')}"`);
  return quoted.length === 1 ? quoted[0]! : `(${quoted.join(' OR ')})`;
}

function replaceVariables(text: string, variables: VariableValues, format: (values: string[]) => string): string {
  return text.replace(/\$\{(\w+)\}|\[\[(\w+)\]\]|\$(\w+)/g, (whole, braced: string, bracketed: string, bare: string) => {
    const name = braced ?? bracketed ?? bare;
    const values = variables[name];
    return values === undefined ? whole : format(values);
  });
}

/** Macros first (they look like variables), then the variables. */
function expandMacros(text: string, scope: Scope, extra: Record<string, string> = {}): string {
  const macros: Record<string, string> = {
    __interval_ms: String(scope.intervalMs),
    __interval: formatDuration(scope.intervalMs),
    interval: formatDuration(scope.intervalMs),
    ...extra,
  };
  // Longest names first: $__interval_ms before $__interval.
  const names = Object.keys(macros).sort((a, b) => b.length - a.length);
  let out = text;
  for (const name of names) out = out.replace(new RegExp(`\\$\\{${name}\\}|\\$${name}\\b`, 'g'), macros[name]!);
  return out;
}

export function interpolateInfluxQL(query: string, scope: Scope): string {
  const timeFilter = `time >= ${scope.range.fromMs}ms and time <= ${scope.range.toMs}ms`;
  return replaceVariables(expandMacros(query, scope, { timeFilter }), scope.variables, influxVariable);
}

export function interpolateLucene(query: string, scope: Scope): string {
  return replaceVariables(expandMacros(query, scope), scope.variables, luceneVariable);
}

/** PromQL: $__rate_interval is max($__interval + scrape interval, 4 × scrape interval). */
export function interpolatePromQL(query: string, scope: Scope, scrapeIntervalMs: number): string {
  const rateInterval = formatDuration(Math.max(scope.intervalMs + scrapeIntervalMs, 4 * scrapeIntervalMs));
  return replaceVariables(expandMacros(query, scope, { __rate_interval: rateInterval }), scope.variables, (values) =>
    values.length === 1 ? escapeRegex(values[0]!) : `(${values.map(escapeRegex).join('|')})`,
  );
}

// Evaluating alert rules as Grafana's ruler does: each data query over its relative time range,
// then the expressions in order (reduce -> math -> threshold), and the condition's value per label
// set says which instances would fire now (after the rule's `for`, during which they are pending).
import type { Rule } from '@grafana/grafana-foundation-sdk/alerting';
import { DATASOURCE_UIDS } from '../datasources.js';
import type { InfluxQLQuery } from '../queries/influxql.js';
import type { Series } from './frames.js';
import { evaluateMath } from './math.js';
import { runInfluxQL, type InfluxTarget } from './sources.js';

export interface AlertInstance {
  labels: Record<string, string>;
  /** The condition's input value, when there is one. */
  value: number | null;
  firing: boolean;
}

export interface RuleEvaluation {
  uid: string;
  title: string;
  /** firing: at least one instance's condition holds; nodata: no series, judged by the rule's noDataState. */
  state: 'firing' | 'normal' | 'nodata' | 'error';
  instances: AlertInstance[];
  reason?: string;
}

type Reducer = 'sum' | 'mean' | 'min' | 'max' | 'count' | 'last' | 'median';

function reduceValues(values: number[], reducer: Reducer): number | null {
  if (values.length === 0) return reducer === 'count' ? 0 : null;
  switch (reducer) {
    case 'sum':
      return values.reduce((a, b) => a + b, 0);
    case 'mean':
      return values.reduce((a, b) => a + b, 0) / values.length;
    case 'min':
      return Math.min(...values);
    case 'max':
      return Math.max(...values);
    case 'count':
      return values.length;
    case 'last':
      return values[values.length - 1]!;
    case 'median': {
      const sorted = [...values].sort((a, b) => a - b);
      const mid = Math.floor(sorted.length / 2);
      return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
    }
  }
}

type Evaluator = { type: string; params: number[] };

function holds(value: number, { type, params: [a = 0, b = 0] }: Evaluator): boolean {
  switch (type) {
    case 'gt':
      return value > a;
    case 'lt':
      return value < a;
    case 'gte':
      return value >= a;
    case 'lte':
      return value <= a;
    case 'eq':
      return value === a;
    case 'ne':
      return value !== a;
    case 'within_range':
      return value > a && value < b;
    case 'outside_range':
      return value < a || value > b;
    case 'within_range_included':
      return value >= a && value <= b;
    case 'outside_range_included':
      return value <= a || value >= b;
    default:
      throw new Error(`threshold type ${type} is not one Grafana has`);
  }
}

const single = (s: Series, value: number | null): Series => ({ name: s.name, labels: s.labels, points: [{ time: null, value }] });
const valueOf = (s: Series) => s.points[s.points.length - 1]?.value ?? null;

export async function evaluateRule(rule: Rule, influx: InfluxTarget, nowMs: number): Promise<RuleEvaluation> {
  const base = { uid: rule.uid ?? '', title: rule.title };
  const results: Record<string, Series[]> = {};
  const inputs: Record<string, Series[]> = {};
  try {
    for (const query of rule.data) {
      const refId = query.refId ?? 'A';
      const model = query.model as unknown as Record<string, unknown>;
      if (query.datasourceUid === DATASOURCE_UIDS.influxdb) {
        const range = { fromMs: nowMs - (query.relativeTimeRange?.from ?? 600) * 1000, toMs: nowMs - (query.relativeTimeRange?.to ?? 0) * 1000 };
        const result = await runInfluxQL(influx, model as unknown as InfluxQLQuery, { range, intervalMs: 1000, variables: {} });
        if (result.error) return { ...base, state: 'error', instances: [], reason: `query ${refId}: ${result.error}` };
        results[refId] = result.series;
      } else if (query.datasourceUid === '__expr__') {
        const input = results[String(model.expression)] ?? [];
        if (model.type === 'reduce') {
          const mode = (model.settings as { mode?: string } | undefined)?.mode;
          results[refId] = input.map((s) => {
            const values = s.points.map((p) => p.value).filter((v): v is number => v !== null && Number.isFinite(v));
            if (mode !== 'dropNN' && values.length !== s.points.length) return single(s, null);
            return single(s, reduceValues(values, model.reducer as Reducer));
          });
        } else if (model.type === 'math') {
          results[refId] = evaluateMath(String(model.expression), results);
        } else if (model.type === 'threshold') {
          const evaluator = (model.conditions as { evaluator: Evaluator }[])[0]!.evaluator;
          inputs[refId] = input;
          results[refId] = input.map((s) => {
            const value = valueOf(s);
            return single(s, value === null ? null : holds(value, evaluator) ? 1 : 0);
          });
        } else {
          return { ...base, state: 'error', instances: [], reason: `expression ${refId}: type ${String(model.type)} is not evaluated by the check` };
        }
      } else {
        return { ...base, state: 'error', instances: [], reason: `query ${refId}: datasource ${query.datasourceUid} is not one the rules use` };
      }
    }
  } catch (error) {
    return { ...base, state: 'error', instances: [], reason: (error as Error).message };
  }
  const condition = results[rule.condition] ?? [];
  if (condition.length === 0) {
    const firing = rule.noDataState === 'Alerting';
    return { ...base, state: firing ? 'firing' : 'nodata', instances: firing ? [{ labels: {}, value: null, firing }] : [] };
  }
  const conditionInputs = inputs[rule.condition] ?? condition;
  const instances = condition.map((s, i) => ({ labels: s.labels, value: valueOf(conditionInputs[i] ?? s), firing: (valueOf(s) ?? 0) !== 0 }));
  return { ...base, state: instances.some((i) => i.firing) ? 'firing' : 'normal', instances };
}

export async function evaluateRules(rules: Rule[], influx: InfluxTarget, nowMs = Date.now()): Promise<RuleEvaluation[]> {
  const evaluations: RuleEvaluation[] = [];
  for (const rule of rules) evaluations.push(await evaluateRule(rule, influx, nowMs));
  return evaluations;
}

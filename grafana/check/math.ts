// Grafana's "math" server-side expression: arithmetic over the results of other queries, series
// joined by identical labels and point by point by time, a number applied to every point.
import { labelKey, type Series } from './frames.js';

type Value = number | Series[];

type Token = { ref: string } | { number: number } | { op: string };

function tokenize(expression: string): Token[] {
  const tokens: Token[] = [];
  const re = /\s*(?:\$\{(\w+)\}|\$(\w+)|(\d+(?:\.\d+)?)|(>=|<=|==|!=|&&|\|\||[-+*/()<>]))/y;
  let match: RegExpExecArray | null;
  let at = 0;
  while (at < expression.trimEnd().length && (match = re.exec(expression))) {
    at = re.lastIndex;
    if (match[1] ?? match[2]) tokens.push({ ref: (match[1] ?? match[2])! });
    else if (match[3]) tokens.push({ number: Number(match[3]) });
    else tokens.push({ op: match[4]! });
  }
  if (at < expression.trimEnd().length) throw new Error(`math expression: cannot read "${expression.slice(at)}"`);
  return tokens;
}

const OPERATIONS: Record<string, (a: number, b: number) => number> = {
  '+': (a, b) => a + b,
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  '/': (a, b) => a / b,
  // Comparisons and logic give 1 or 0, as in Grafana's math.
  '>': (a, b) => Number(a > b),
  '<': (a, b) => Number(a < b),
  '>=': (a, b) => Number(a >= b),
  '<=': (a, b) => Number(a <= b),
  '==': (a, b) => Number(a === b),
  '!=': (a, b) => Number(a !== b),
  '&&': (a, b) => Number(a !== 0 && b !== 0),
  '||': (a, b) => Number(a !== 0 || b !== 0),
};

const apply = (op: string, a: number | null, b: number | null): number | null => {
  if (a === null || b === null) return null;
  const r = OPERATIONS[op]!(a, b);
  return Number.isFinite(r) ? r : null;
};

function combine(op: string, left: Value, right: Value): Value {
  if (typeof left === 'number' && typeof right === 'number') return apply(op, left, right) ?? Number.NaN;
  const pointwise = (s: Series, other: (time: number | null) => number | null): Series => ({
    name: s.name,
    labels: s.labels,
    points: s.points.map((p) => ({ time: p.time, value: apply(op, p.value, other(p.time)) })),
  });
  if (typeof left === 'number') return (right as Series[]).map((s) => ({ ...s, points: s.points.map((p) => ({ time: p.time, value: apply(op, left, p.value) })) }));
  if (typeof right === 'number') return left.map((s) => pointwise(s, () => right));
  const byLabels = new Map(right.map((s) => [labelKey(s.labels), s]));
  const out: Series[] = [];
  for (const s of left) {
    // One unlabelled series on the right joins every left series, as Grafana does.
    const match = byLabels.get(labelKey(s.labels)) ?? (right.length === 1 && Object.keys(right[0]!.labels).length === 0 ? right[0] : undefined);
    if (!match) continue;
    const values = new Map(match.points.map((p) => [p.time, p.value]));
    out.push(pointwise(s, (time) => values.get(time) ?? null));
  }
  return out;
}

export function evaluateMath(expression: string, results: Record<string, Series[]>): Series[] {
  const tokens = tokenize(expression);
  let i = 0;
  const peek = () => tokens[i];
  const primary = (): Value => {
    const t = tokens[i++];
    if (!t) throw new Error(`math expression ended early: ${expression}`);
    if ('number' in t) return t.number;
    if ('ref' in t) {
      const series = results[t.ref];
      if (!series) throw new Error(`math expression refers to $${t.ref}, which is not a query of this panel or rule`);
      return series;
    }
    if (t.op === '(') {
      const inner = or();
      i++;
      return inner;
    }
    if (t.op === '-') return combine('*', -1, primary());
    throw new Error(`math expression: unexpected "${t.op}" in ${expression}`);
  };
  const binary = (operators: string[], operand: () => Value) => (): Value => {
    let value = operand();
    for (let t = peek(); t && 'op' in t && operators.includes(t.op); t = peek()) {
      i++;
      value = combine(t.op, value, operand());
    }
    return value;
  };
  const product = binary(['*', '/'], primary);
  const sum = binary(['+', '-'], product);
  const comparison = binary(['>', '<', '>=', '<=', '==', '!='], sum);
  const and = binary(['&&'], comparison);
  const or = binary(['||'], and);
  const value = or();
  if (i < tokens.length) throw new Error(`math expression: unexpected tokens after position ${i} in ${expression}`);
  return typeof value === 'number' ? [{ name: expression, labels: {}, points: [{ time: null, value }] }] : value;
}

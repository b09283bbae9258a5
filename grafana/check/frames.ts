// What a query returns, reduced to what the check needs: labelled series of numbers, and documents.

export interface Point {
  /** Epoch ms; null for a value that is not over time (a terms bucket, a table row). */
  time: number | null;
  value: number | null;
}

export interface Series {
  /** The value column or metric: requests, p95, count, 95. */
  name: string;
  labels: Record<string, string>;
  points: Point[];
}

export interface QueryResult {
  refId: string;
  /** The text or body sent, after interpolation. */
  sent: string;
  series: Series[];
  documents: Record<string, unknown>[];
  error?: string;
}

export const labelKey = (labels: Record<string, string>) => JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));

export function hasData(result: Pick<QueryResult, 'series' | 'documents'>): boolean {
  return result.documents.length > 0 || result.series.some((s) => s.points.some((p) => p.value !== null && Number.isFinite(p.value)));
}

// Reading back what the metrics bridge wrote: InfluxQL against the real InfluxDB.
import type { RunningInflux } from '../../../src/local/services/influxdb.js';

export interface Series {
  columns: string[];
  values: unknown[][];
}

export async function influxQl(influx: RunningInflux, bucket: string, q: string): Promise<Series | undefined> {
  const url = new URL('/query', influx.url);
  url.search = new URLSearchParams({ db: bucket, q, epoch: 'ns' }).toString();
  const body = (await (await fetch(url, { headers: { Authorization: `Token ${influx.token}` } })).json()) as { results: { series?: Series[] }[] };
  return body.results[0]?.series?.[0];
}

/** Points of the reference measurement in the bucket (each has elapsed_time). */
export async function countPoints(influx: RunningInflux, bucket: string): Promise<number> {
  const series = await influxQl(influx, bucket, 'SELECT count(elapsed_time) FROM cdnmetrics');
  return Number(series?.values[0]?.[1] ?? 0);
}

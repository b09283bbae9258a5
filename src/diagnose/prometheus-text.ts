// Reading samples out of a bridge's /metrics (the Prometheus text format), enough for counters
// and gauges: `name{label="value",...} number`.

export interface Sample {
  labels: Record<string, string>;
  value: number;
}

const LABEL = /([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Every sample of the metric `name`, with its labels (escapes undone). */
export function metricSamples(text: string, name: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!(line.startsWith(`${name}{`) || line.startsWith(`${name} `))) continue;
    const close = line.startsWith(`${name}{`) ? line.lastIndexOf('}') : name.length - 1;
    const labels: Record<string, string> = {};
    for (const [, key, raw] of line.slice(name.length, close + 1).matchAll(LABEL)) {
      labels[key!] = raw!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    samples.push({ labels, value: Number(line.slice(close + 1).trim().split(/\s+/)[0]) });
  }
  return samples;
}

// Durations as Grafana and InfluxQL write them (500ms, 10s, 1m, 2h, 1d).

export function formatDuration(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1_000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

export function parseDuration(text: string): number {
  const match = /^(\d+)(ms|s|m|h|d|w)$/.exec(text);
  if (!match) throw new Error(`not a duration: "${text}" (expected e.g. 500ms, 10s, 1m, 2h)`);
  const size = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[match[2] as 'ms'];
  return Number(match[1]) * size;
}

/** A duration as Prometheus' model.Duration prints it, which is how Grafana answers `for`: 90s -> 1m30s. */
export function prometheusDuration(ms: number): string {
  if (ms === 0) return '0s';
  const units = [['y', 31_536_000_000], ['w', 604_800_000], ['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1_000], ['ms', 1]] as const;
  let rest = ms;
  let text = '';
  for (const [unit, size] of units) {
    if (rest >= size) {
      text += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return text;
}

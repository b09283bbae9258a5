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

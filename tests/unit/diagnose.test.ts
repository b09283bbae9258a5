// The parsing and formatting parts of `cdnkit doctor` and `cdnkit dead-letters` (the rest runs
// against real servers in tests/integration/doctor.test.ts and dead-letters.test.ts).
import { describe, expect, it } from 'vitest';
import { parseSince, sampleText } from '../../src/diagnose/dead-letters.js';
import { metricSamples } from '../../src/diagnose/prometheus-text.js';

describe('parseSince', () => {
  const now = Date.parse('2026-01-02T03:04:05Z');
  it('reads beginning, end, offsets, durations back from now and ISO-8601 times', () => {
    expect(parseSince('beginning', now)).toEqual({ from: 'beginning' });
    expect(parseSince('end', now)).toEqual({ from: 'end' });
    expect(parseSince('1200', now)).toEqual({ from: 'offset', offset: 1200 });
    expect(parseSince('90s', now)).toEqual({ from: 'time', ms: now - 90_000 });
    expect(parseSince('15m', now)).toEqual({ from: 'time', ms: now - 900_000 });
    expect(parseSince('2h', now)).toEqual({ from: 'time', ms: now - 7_200_000 });
    expect(parseSince('7d', now)).toEqual({ from: 'time', ms: now - 7 * 86_400_000 });
    expect(parseSince('2026-01-01T00:00:00Z', now)).toEqual({ from: 'time', ms: Date.parse('2026-01-01T00:00:00Z') });
  });
  it('refuses anything else, saying what it takes', () => {
    for (const text of ['', 'yesterday', '-5', '1.5h', '2w']) expect(() => parseSince(text, now), text).toThrow('write beginning, end, a duration');
  });
});

describe('metricSamples', () => {
  const text = [
    '# HELP cdnkit_bridge_dead_lettered_lines_total Lines sent to the dead-letter topic',
    '# TYPE cdnkit_bridge_dead_lettered_lines_total counter',
    'cdnkit_bridge_dead_lettered_lines_total{reason="invalid line protocol",bridge="metrics"} 3',
    'cdnkit_bridge_dead_lettered_lines_total{reason="say \\"why\\", a\\\\b",bridge="metrics"} 2',
    'cdnkit_bridge_dead_lettered_lines_total_other{reason="x"} 9',
    'cdnkit_bridge_held_lines{bridge="metrics"} 0',
    'process_open_fds 12',
  ].join('\n');
  it('reads each sample of one metric, with its labels unescaped, and no other metric', () => {
    expect(metricSamples(text, 'cdnkit_bridge_dead_lettered_lines_total')).toEqual([
      { labels: { reason: 'invalid line protocol', bridge: 'metrics' }, value: 3 },
      { labels: { reason: 'say "why", a\\b', bridge: 'metrics' }, value: 2 },
    ]);
    expect(metricSamples(text, 'process_open_fds')).toEqual([{ labels: {}, value: 12 }]);
    expect(metricSamples(text, 'absent')).toEqual([]);
  });
});

describe('sampleText', () => {
  it('shows a line JSON-escaped, so control characters cannot act on the terminal, and cuts long ones', () => {
    expect(sampleText('a\tb\u001b[31mred')).toBe('"a\\tb\\u001b[31mred"');
    expect(sampleText('x'.repeat(12), 10)).toBe('"xxxxxxxxxx" … (12 characters)');
    expect(sampleText('x'.repeat(10), 10)).toBe('"xxxxxxxxxx"');
  });
});

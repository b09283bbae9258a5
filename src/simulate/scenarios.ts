// Scenarios change the traffic for a while: what alert rules must catch. Each has a start offset
// from the simulation's start and a duration; they come from a small YAML file or from --inject
// flags, and both are checked by one schema, with errors naming the file and line (or the flag).
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseYaml } from '../config/load.js';

/** "90s", "2m", "1h", "1500ms", "1d" or a number of seconds, as milliseconds. */
export function parseDuration(text: string | number): number {
  if (typeof text === 'number') return text * 1000;
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a duration: write e.g. 500ms, 90s, 10m, 2h or 1d`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(match[2] ?? 's') as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

const duration = z
  .union([z.string(), z.number().nonnegative()])
  .transform((value, ctx) => {
    try {
      return parseDuration(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  });

const share = (fallback: number) => z.number().gt(0).max(1).default(fallback).describe('Fraction of the matching requests affected');
const when = {
  start: duration.describe('Offset from the simulation start, e.g. 2m'),
  duration: duration.describe('How long it lasts, e.g. 5m'),
};

export const scenarioSchema = z.discriminatedUnion('type', [
  z
    .strictObject({ type: z.literal('errors'), ...when, api: z.string().optional(), backend: z.string().optional(), share: share(0.5) })
    .describe('A 5xx burst on one API or one backend (requested), or on everything'),
  z
    .strictObject({ type: z.literal('latency'), ...when, pop: z.string(), factor: z.number().gt(0).default(10) })
    .describe('Elapsed time and time to first byte multiplied at one POP'),
  z
    .strictObject({ type: z.literal('drop'), ...when, pop: z.string().optional(), factor: z.number().min(0).max(1).default(0.2) })
    .describe('Traffic falls to this fraction (everywhere, or at one POP)'),
  z
    .strictObject({ type: z.literal('auth'), ...when, api: z.string(), pop: z.string(), share: share(0.8) })
    .describe('A 401/403 storm on one API at one POP'),
  z
    .strictObject({ type: z.literal('failover'), ...when, backend: z.string(), to: z.string().optional() })
    .describe('Requests meant for one backend go to another (actual differs from requested)'),
]);

export type Scenario = z.output<typeof scenarioSchema>;
export const SCENARIO_TYPES = scenarioSchema.options.map((option) => option.shape.type.value);

const scenarioFileSchema = z.strictObject({ scenarios: z.array(scenarioSchema) });

/** Reads a scenario file; problems throw a ConfigError naming file, line and key. */
export function loadScenarioFile(file: string): Scenario[] {
  return parseYaml(readFileSync(file, 'utf8'), file, scenarioFileSchema).scenarios;
}

/** `type:key=value,key=value`, e.g. `errors:api=checkout,start=1m,duration=2m`. */
export function parseScenarioFlag(spec: string): Scenario {
  const [type, rest = ''] = spec.split(/:(.*)/s, 2) as [string, string?];
  const entries = rest
    .split(',')
    .filter((part) => part !== '')
    .map((part) => {
      const [key, value] = part.split(/=(.*)/s, 2) as [string, string?];
      if (value === undefined) throw new Error(`--inject ${spec}: "${part}" is not key=value`);
      return [key, /^-?\d+(\.\d+)?$/.test(value) && !['start', 'duration'].includes(key) ? Number(value) : value] as const;
    });
  const parsed = scenarioSchema.safeParse({ type, ...Object.fromEntries(entries) });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = issue.path.join('.') || 'type';
    const hint = key === 'type' ? `; types: ${SCENARIO_TYPES.join(', ')}` : '';
    throw new Error(`--inject ${spec}: ${key}: ${issue.message}${hint}`);
  }
  return parsed.data;
}

// What each `cdnkit` subcommand does; main.ts only declares them. Each command imports its heavy
// parts when it runs: a bridge process then carries neither the template engine nor the other
// sink's client (tens of MB of resident memory), and `--help` starts fast.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { z } from 'zod';
import type { Artifact } from '../../generators/artifact.js';
import type { BridgeKind } from '../bridge/bridge.js';
import type { Check } from '../config/checks.js';
import { ConfigError, formatProblem, loadConfigFile, type LoadedConfig } from '../config/load.js';
import { kitConfigSchema, type KitConfig } from '../config/schema.js';

interface ConfigOptions {
  config: string;
  strict?: boolean;
}

/**
 * Loads the config and runs `checks` on it (the generators', which only they can make), printing
 * warnings; on problems prints them all, each at its file, line and key, and exits 1.
 */
export function loadOrExit({ config, strict }: ConfigOptions, checks: (config: KitConfig) => Check[] = () => [], refused = 'nothing was generated'): LoadedConfig {
  try {
    const loaded = loadConfigFile(config);
    const found = [...loaded.warnings, ...checks(loaded.config).map(loaded.problemAt)];
    if (found.some((p) => p.severity === 'error')) throw new ConfigError(found);
    for (const warning of found) process.stderr.write(`${formatProblem(warning)}\n`);
    if (strict && found.length > 0) {
      process.stderr.write(`${config}: ${found.length} warning(s), and --strict is set\n`);
      process.exit(1);
    }
    return { ...loaded, warnings: found };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) process.stderr.write(`${formatProblem(problem)}\n`);
    const errors = error.problems.filter((p) => p.severity === 'error').length;
    process.stderr.write(`${config}: ${errors} error(s); ${refused}\n`);
    process.exit(1);
  }
}

export async function initCommand(options: { output: string; force?: boolean }): Promise<void> {
  if (existsSync(options.output) && !options.force) {
    process.stderr.write(`cdnkit init: ${options.output} exists; use --force to overwrite it\n`);
    process.exit(1);
  }
  const { starterConfig } = await import('../config/init.js');
  writeFileSync(options.output, starterConfig(options.output));
  process.stdout.write(`wrote ${options.output}: the reference pipeline; edit its fields, then run\n  cdnkit generate -c ${options.output} -o out\n`);
}

export async function validateCommand(options: ConfigOptions): Promise<void> {
  const { checkAll } = await import('../../generators/index.js');
  const { config, warnings } = loadOrExit(options, checkAll);
  process.stdout.write(
    `${options.config}: valid — ${config.fields.length} fields, ${warnings.length} warning(s), flavours: ${config.cdn.flavours.join(', ')}\n`,
  );
}

export async function generateCommand(options: ConfigOptions & { output: string; check?: boolean }): Promise<void> {
  const { checkAll, generateAll } = await import('../../generators/index.js');
  const { config } = loadOrExit(options, checkAll);
  const artifacts = generateAll(config);
  if (options.check) {
    const differences = differencesFrom(options.output, artifacts);
    for (const difference of differences) process.stderr.write(`${difference}\n`);
    if (differences.length > 0) {
      process.stderr.write(`${options.output}: ${differences.length} difference(s) from what the config generates; run cdnkit generate\n`);
      process.exit(1);
    }
    process.stdout.write(`${options.output}: all ${artifacts.length} files are up to date\n`);
    return;
  }
  const { writeArtifacts } = await import('../../generators/artifact.js');
  const files = writeArtifacts(options.output, artifacts);
  const width = Math.max(...files.map((f) => f.length));
  artifacts.forEach((artifact, i) => process.stdout.write(`  ${files[i]!.padEnd(width)}  ${artifact.description}\n`));
  process.stdout.write(`wrote ${artifacts.length} files into ${options.output}/\n`);
}

/**
 * How an output folder differs from `artifacts`: files missing, out of date, not generated (a
 * stale one a renamed field left behind, say), or executable when they should not be or the
 * other way round (the one mode bit git keeps).
 */
function differencesFrom(output: string, artifacts: Artifact[]): string[] {
  const differences: string[] = [];
  for (const artifact of artifacts) {
    const file = join(output, artifact.path);
    if (!existsSync(file)) {
      differences.push(`missing: ${file}`);
      continue;
    }
    if (readFileSync(file, 'utf8') !== artifact.content) differences.push(`out of date: ${file}`);
    const executable = (statSync(file).mode & 0o111) !== 0;
    const wanted = ((artifact.mode ?? 0o644) & 0o111) !== 0;
    if (executable !== wanted) differences.push(`${wanted ? 'not executable' : 'executable'}, should ${wanted ? '' : 'not '}be: ${file}`);
  }
  const generated = new Set(artifacts.map((a) => a.path));
  const present = existsSync(output) ? readdirSync(output, { recursive: true, encoding: 'utf8' }) : [];
  for (const path of present.map((p) => p.split(sep).join('/')).sort()) {
    const file = join(output, path);
    if (!generated.has(path) && statSync(file).isFile()) differences.push(`not generated: ${file}`);
  }
  return differences;
}

export function schemaCommand(): void {
  process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
}

/** The JSON Schema of what a user writes (defaults are optional), for editors. */
export function configJsonSchema(): object {
  return z.toJSONSchema(kitConfigSchema, { io: 'input', unrepresentable: 'any' });
}

export async function bridgeCommand(kind: BridgeKind, options: ConfigOptions): Promise<void> {
  const { config } = loadOrExit(options);
  const { startBridge } = await import('../bridge/bridge.js');
  const bridge = await startBridge(kind, config);
  void bridge.failed.then(async (error) => {
    process.stderr.write(`cdnkit bridge ${kind}: cannot go on (${error.message}); exiting so a supervisor restarts it\n`);
    await bridge.stop().catch(() => undefined);
    process.exit(1);
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      bridge.stop().then(
        () => process.exit(0),
        (error: unknown) => {
          process.stderr.write(`cdnkit bridge: stopping failed: ${String(error)}\n`);
          process.exit(1);
        },
      );
    });
  }
}

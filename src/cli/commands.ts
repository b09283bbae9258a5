// What each `cdnkit` subcommand does; main.ts only declares them. Each command imports its heavy
// parts when it runs: a bridge process then carries neither the template engine nor the other
// sink's client (tens of MB of resident memory), and `--help` starts fast.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import type { BridgeKind } from '../bridge/bridge.js';
import { ConfigError, formatProblem, loadConfigFile, type LoadedConfig } from '../config/load.js';
import { kitConfigSchema } from '../config/schema.js';

interface ConfigOptions {
  config: string;
  strict?: boolean;
}

/** Loads the config, printing warnings; on problems prints them all and exits 1. */
export function loadOrExit({ config, strict }: ConfigOptions): LoadedConfig {
  try {
    const loaded = loadConfigFile(config);
    for (const warning of loaded.warnings) process.stderr.write(`${formatProblem(warning)}\n`);
    if (strict && loaded.warnings.length > 0) {
      process.stderr.write(`${config}: ${loaded.warnings.length} warning(s), and --strict is set\n`);
      process.exit(1);
    }
    return loaded;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) process.stderr.write(`${formatProblem(problem)}\n`);
    const errors = error.problems.filter((p) => p.severity === 'error').length;
    process.stderr.write(`${config}: ${errors} error(s); nothing was generated\n`);
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

export function validateCommand(options: ConfigOptions): void {
  const { config, warnings } = loadOrExit(options);
  process.stdout.write(
    `${options.config}: valid — ${config.fields.length} fields, ${warnings.length} warning(s), flavours: ${config.cdn.flavours.join(', ')}\n`,
  );
}

export async function generateCommand(options: ConfigOptions & { output: string; check?: boolean }): Promise<void> {
  const { config } = loadOrExit(options);
  const { generateAll } = await import('../../generators/index.js');
  const artifacts = generateAll(config);
  if (options.check) {
    const stale = artifacts.filter((a) => {
      const file = join(options.output, a.path);
      return !existsSync(file) || readFileSync(file, 'utf8') !== a.content;
    });
    for (const a of stale) process.stderr.write(`out of date: ${join(options.output, a.path)}\n`);
    if (stale.length > 0) process.exit(1);
    process.stdout.write(`${options.output}: all ${artifacts.length} files are up to date\n`);
    return;
  }
  const width = Math.max(...artifacts.map((a) => a.path.length));
  for (const artifact of artifacts) {
    const file = join(options.output, artifact.path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, artifact.content, { mode: artifact.mode ?? 0o644 });
    chmodSync(file, artifact.mode ?? 0o644);
    process.stdout.write(`  ${file.padEnd(width + options.output.length + 1)}  ${artifact.description}\n`);
  }
  process.stdout.write(`wrote ${artifacts.length} files into ${options.output}/\n`);
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

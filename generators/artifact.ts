// What every generator returns: files, described, so `cdnkit generate` can write them and say
// what each one is for.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Check } from '../src/config/checks.js';
import { keyOf } from '../src/config/load.js';
import type { KitConfig } from '../src/config/schema.js';

export interface Artifact {
  /** Relative to the output folder, with forward slashes. */
  path: string;
  content: string;
  /** One line for the output's README and the CLI's report: what it is and where it goes. */
  description: string;
  /** File mode, for the scripts among the artifacts; 0o644 when absent. */
  mode?: number;
}

export type Generator = (config: KitConfig) => Artifact[];

/**
 * A config a generator cannot serve. Its problems name config paths, so `cdnkit validate` and
 * `generate` report them at their file, line and key like any config error.
 */
export class GeneratorError extends Error {
  constructor(readonly problems: Check[]) {
    super(problems.map((p) => `${keyOf(p.path) || '(top level)'}: ${p.message}`).join('\n'));
    this.name = 'GeneratorError';
  }
}

/** Throws the errors among `problems`, so no generator writes a file it knows to be wrong. */
export function refuseOnErrors(problems: Check[]): void {
  const errors = problems.filter((p) => p.severity === 'error');
  if (errors.length > 0) throw new GeneratorError(errors);
}

/** Writes the artifacts under `output` (folders made as needed, modes set); the files written. */
export function writeArtifacts(output: string, artifacts: Artifact[]): string[] {
  return artifacts.map((artifact) => {
    const file = join(output, artifact.path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, artifact.content, { mode: artifact.mode ?? 0o644 });
    chmodSync(file, artifact.mode ?? 0o644);
    return file;
  });
}

// What every generator returns: files, described, so `cdnkit generate` can write them and say
// what each one is for.
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

// What a refused config (or scenario file) was refused for, for tests that check the messages.
import { ConfigError, parseConfig, type ConfigProblem } from '../../../src/config/load.js';

/** The problems `load` throws; fails the test if it throws none. */
export function problemsRaised(load: () => unknown): ConfigProblem[] {
  try {
    load();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected the config to be refused');
}

/** The errors (not warnings) of kit config text, reported as coming from edge.yaml. */
export const configErrors = (text: string): ConfigProblem[] => problemsRaised(() => parseConfig(text, 'edge.yaml')).filter((p) => p.severity === 'error');

// Kit config text for tests, and what a refused config (or scenario file) was refused for.
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

/** The smallest valid fields: one tag from a header, one integer field from a timing. */
export const GOOD_FIELDS = `  - name: api_name
    roles: [log, tag]
    fastly: req.http.API-Name
    varnish: req.http.API-Name
  - name: elapsed_time
    type: integer
    roles: [field]
    fastly: time.elapsed.msec
    varnish: { ncsa: "%D" }
`;

// Visible progress for long set-up work: every step prints when it starts and how long it took,
// so a first run that builds servers for minutes never looks hung.

function stamp(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function say(line: string): void {
  process.stderr.write(`[cdnkit] ${line}\n`);
}

/** Runs `work`, printing the step's name before and its duration (or failure) after. */
export async function step<T>(name: string, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  say(`${name} ...`);
  try {
    const result = await work();
    say(`${name}: done in ${stamp(Date.now() - started)}`);
    return result;
  } catch (error) {
    say(`${name}: FAILED after ${stamp(Date.now() - started)}`);
    throw new HarnessError(name, error);
  }
}

/** A set-up step that failed; the message names the step and the cause, so a run never fails vaguely. */
export class HarnessError extends Error {
  constructor(
    readonly step: string,
    cause: unknown,
  ) {
    super(`set-up step "${step}" failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'HarnessError';
  }
}

export { say as progress };

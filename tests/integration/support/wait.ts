// Waiting for something a real server or process will do, with a message that says what never
// happened (and, when given, what the process printed) instead of a bare timeout.

export async function eventually(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
  diagnostics: () => string = () => '',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${diagnostics()}`.trimEnd());
    await new Promise((r) => setTimeout(r, 50));
  }
}

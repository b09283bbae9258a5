// Set-up file of every vitest project: a test worker exits as soon as the vitest process that forked
// it is gone. Without this a worker whose runner was killed (kill -9, a CI job cancelled) goes on
// running its test file to the end, and the programs that test started live as long; with it, the
// worker's exit fires their parent-death signal (spawnChild in src/local/process.ts) at once.
// Workers are forked processes (pool 'forks' in vitest.config.ts), with an IPC channel to vitest:
// it closes when vitest dies, which emits 'disconnect' here.
const installed = Symbol.for('cdnkit.dieWithRunner');
const registry = globalThis as { [installed]?: boolean };
if (!registry[installed] && process.connected) {
  registry[installed] = true;
  process.once('disconnect', () => process.exit(1));
}

// Process helpers shared by the harness: running commands with visible progress, starting and
// stopping long-lived servers, cross-process locks, ports and small file reads.
//
// Rule for everything here: nothing may keep the Node process alive once its work is done. The
// vitest main process runs the global set-up and teardown; a timer still pending after the servers
// stopped holds it open ("close timed out ... something prevents the main process from exiting").

import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { cacheDir } from './cache.js';
import { progress } from './progress.js';

// ---------------------------------------------------------------------------------------------
// Small things
// ---------------------------------------------------------------------------------------------

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** True while a process with this pid exists (EPERM: it exists but belongs to another user). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The file's text, or '' when it cannot be read (missing, a directory, ...). */
/** Resident memory of a process, bytes (VmRSS), or undefined once it is gone. */
export function residentBytes(pid: number): number | undefined {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSafe(`/proc/${pid}/status`));
  return match ? Number(match[1]) * 1024 : undefined;
}

export function readFileSafe(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** The last lines of a text, for error messages. */
export function tailOf(text: string, lines = 30): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** The last lines of a file (a server's log), or '' when it cannot be read. */
export function tailOfFile(file: string, lines = 30): string {
  return tailOf(readFileSafe(file), lines);
}

/** A non-empty regular file this process may execute (a half-written build output has size 0). */
export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    const st = statSync(path);
    return st.isFile() && st.size > 0;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Ports and addresses
// ---------------------------------------------------------------------------------------------

/** True when something accepts TCP connections at host:port (1 s connect timeout). */
export function portInUse(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.setTimeout(1_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A port on 127.0.0.1 that was free a moment ago (the kernel picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A loopback host name, as written in a host:port pair ('::1') or a URL's hostname ('[::1]'). */
export function isLocal(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '::1' || host === '[::1]';
}

// ---------------------------------------------------------------------------------------------
// Running commands with visible progress
// ---------------------------------------------------------------------------------------------

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string;
  /** Print the command's output lines as progress while it runs (long installs). */
  stream?: boolean;
  /** Called with every output line (stdout and stderr), e.g. to count what a quiet command did. */
  onLine?: (line: string) => void;
  /** Print "still running" when nothing was shown for this long (default 15 s). */
  heartbeatMs?: number;
  /** What the heartbeat calls the command (default: the command line). */
  label?: string;
  /** Extra text for each heartbeat line, e.g. how far a build that prints nothing has got. */
  heartbeatNote?: () => string;
  /** Kill the command (SIGKILL) after this long. */
  timeoutMs?: number;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved as they arrived (tools like mvn report errors on stdout). */
  output: string;
  durationMs: number;
}

/** Runs a program to completion and captures its output; never throws for a non-zero exit. */
export function runCommand(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const started = Date.now();
  const shown = [command, ...args].join(' ');
  return new Promise<RunResult>((resolve, reject) => {
    const child = spawnChild(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let output = '';
    let lastShown = Date.now();
    const pending: Record<'out' | 'err', string> = { out: '', err: '' };
    const onChunk = (which: 'out' | 'err', chunk: string): void => {
      output += chunk;
      if (!options.stream && !options.onLine) return;
      const lines = (pending[which] + chunk).split('\n');
      pending[which] = lines.pop() ?? '';
      for (const raw of lines) {
        // apt redraws progress with carriage returns: only the last state of such a line counts.
        const line = raw.slice(raw.lastIndexOf('\r') + 1);
        if (!line.trim()) continue;
        options.onLine?.(line);
        if (options.stream) {
          progress(`  | ${line}`);
          lastShown = Date.now();
        }
      }
    };
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      onChunk('out', chunk);
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      onChunk('err', chunk);
    });
    if (options.input !== undefined) child.stdin?.end(options.input);

    const heartbeatMs = options.heartbeatMs ?? 15_000;
    const heartbeat = setInterval(() => {
      if (Date.now() - lastShown >= heartbeatMs) {
        progress(`  ... still running after ${duration(Date.now() - started)}: ${options.label ?? shown}${options.heartbeatNote?.() ?? ''}`);
        lastShown = Date.now();
      }
    }, 1000);
    heartbeat.unref();
    const killer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            stderr += `\n[harness] killed after ${options.timeoutMs} ms`;
            child.kill('SIGKILL');
          }, options.timeoutMs);

    child.on('error', (error: NodeJS.ErrnoException) => {
      clearInterval(heartbeat);
      if (killer) clearTimeout(killer);
      reject(
        error.code === 'ENOENT'
          ? new Error(`command not found: ${command} (needed for: ${shown})`)
          : new Error(`could not start ${shown}: ${error.message}`),
      );
    });
    child.on('close', (code, signal) => {
      clearInterval(heartbeat);
      if (killer) clearTimeout(killer);
      for (const which of ['out', 'err'] as const) {
        const line = pending[which];
        if (!line.trim()) continue;
        options.onLine?.(line);
        if (options.stream) progress(`  | ${line}`);
      }
      resolve({ code, signal, stdout, stderr, output, durationMs: Date.now() - started });
    });
  });
}

/** Runs a program and throws (with the tail of its output) unless it exits 0. */
export async function mustRun(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const result = await runCommand(command, args, options);
  if (result.code !== 0) {
    const why = result.signal ? `was killed by ${result.signal}` : `exited with code ${result.code}`;
    throw new Error(`\`${[command, ...args].join(' ')}\` ${why}; output tail:\n${tailOf(result.output) || '(no output)'}`);
  }
  return result;
}

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

// ---------------------------------------------------------------------------------------------
// Long-lived servers
// ---------------------------------------------------------------------------------------------

let setprivWorks: boolean | undefined;
/**
 * Wraps a command so the kernel sends it SIGTERM when this process dies, however it dies, SIGKILL
 * included (setpriv --pdeathsig; the setting survives setpriv's exec of the command). Without
 * util-linux's setpriv, runs it as is. Strictly, the signal comes when the *thread* that forked it
 * ends: Node forks from its main thread, and vitest runs tests in forked processes (pool 'forks').
 */
function dieWithParent(command: string, args: readonly string[]): [string, string[]] {
  if (setprivWorks === undefined) {
    setprivWorks = spawnSync('setpriv', ['--pdeathsig', 'TERM', 'true'], { stdio: 'ignore' }).status === 0;
    if (!setprivWorks) progress('setpriv (util-linux) is missing: programs started from here outlive this process if it is killed with SIGKILL');
  }
  return setprivWorks ? ['setpriv', ['--pdeathsig', 'TERM', command, ...args]] : [command, [...args]];
}

/** True when `command` names a file to run (a path, or a name found on PATH). */
function runnable(command: string, env: NodeJS.ProcessEnv): boolean {
  if (command.includes('/')) return existsSync(command);
  return (env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && existsSync(join(dir, command)));
}

/**
 * Starts a program that must not outlive this process: every child the product and the tests start
 * goes through here. It gets SIGTERM from the kernel when this process dies (dieWithParent), and is
 * SIGKILLed when this process exits normally with it still running (killOnExit). It runs in its
 * own process group, so a terminal's Ctrl-C (sent to the whole foreground group) reaches only this
 * process, which stops its children in its own order (`cdnkit local up`: the reverse of starting).
 * A command that cannot be found is spawned bare, so the caller sees Node's usual ENOENT 'error'
 * event instead of setpriv's exit code 127.
 */
export function spawnChild(command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  const [program, argv] = runnable(command, options.env ?? process.env) ? dieWithParent(command, args) : [command, [...args]];
  const child = spawn(program, argv, { ...options, detached: true });
  killOnExit(child);
  return child;
}

const children = new Set<ChildProcess>();
let exitHookInstalled = false;
/** Makes sure a child does not outlive this Node process (the 'exit' hook is synchronous). */
function killOnExit(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
  child.once('error', () => children.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of children) c.kill('SIGKILL');
    });
  }
}

/** Resolves, once the process exited, with how: "exit code 0", "signal SIGKILL". */
export function howItEnds(child: ChildProcess): Promise<string> {
  const how = () => (child.signalCode ? `signal ${child.signalCode}` : `exit code ${child.exitCode}`);
  return exitOf(child).then(how);
}

/** Resolves when the process has exited (at once if it already has). */
export function exitOf(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** True if the process exits within ms. The timer is cleared on exit, so it never holds Node open. */
export function exitsWithin(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onExit = () => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, ms);
    child.once('exit', onExit);
  });
}

/**
 * SIGTERM (a launcher such as Elasticsearch's shuts its server JVM down cleanly), then SIGKILL after
 * the grace period — to the process and its direct children, so a server JVM forked by a launcher
 * does not survive it.
 */
export async function stopProcess(child: ChildProcess, name: string, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  if (await exitsWithin(child, graceMs)) return;
  progress(`${name}: no exit ${graceMs / 1000} s after SIGTERM, sending SIGKILL`);
  const forked = child.pid === undefined ? [] : childPids(child.pid);
  const exited = exitOf(child);
  child.kill('SIGKILL');
  for (const pid of forked) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await exited;
}

/** Direct children of a process (a JVM forks from any of its threads, so every task is read). */
function childPids(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((task) =>
      readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

/**
 * Removes temp dirs <tmpdir>/<prefix>* of earlier runs whose processes listed in owner.pids are all
 * gone (e.g. after a crash). A server's temp dir gets "<node pid> <server pid>" in owner.pids.
 */
export function sweepStale(prefix: string): void {
  try {
    for (const entry of readdirSync(tmpdir())) {
      if (!entry.startsWith(prefix)) continue;
      const dir = join(tmpdir(), entry);
      const owners = readFileSafe(join(dir, 'owner.pids')).split(/\s+/).filter(Boolean).map(Number);
      if (owners.length > 0 && owners.every((pid) => !alive(pid))) rmSync(dir, { recursive: true, force: true });
    }
  } catch {
    // best effort
  }
}

// ---------------------------------------------------------------------------------------------
// Cross-process locks
// ---------------------------------------------------------------------------------------------

export interface LockOptions {
  /** Give up waiting after this long (default 45 min, a cold Go build on two cores). */
  maxWaitMs?: number;
}

/**
 * Runs `work` while holding <cache>/locks/<name>.lock, so two test workers or runs never install or
 * start the same thing twice; whoever waited re-checks afterwards. The lock is a directory (mkdir is
 * atomic) with an `owner` file "<pid> <host> <time>". A lock whose owner process is gone (a killed
 * run) is taken over; so is a leftover without an owner file, once it is 30 s old.
 */
export async function withLock<T>(name: string, work: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const maxWaitMs = options.maxWaitMs ?? 45 * 60_000;
  const lock = join(cacheDir('locks'), `${name}.lock`);
  const owner = join(lock, 'owner');
  const started = Date.now();
  let lastSaid = 0;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(owner, `${process.pid} ${hostname()} ${new Date().toISOString()}\n`);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = readFileSafe(owner).trim();
    if (!holder) {
      // The owner file is written right after mkdir; a lock without one that is not brand new is stale.
      try {
        if (Date.now() - statSync(lock).mtimeMs > 30_000) rmSync(lock, { recursive: true, force: true });
      } catch {
        /* raced with its removal */
      }
      await sleep(200);
      continue;
    }
    const [pidText, host] = holder.split(' ');
    const pid = Number(pidText);
    if (host === hostname() && Number.isInteger(pid) && !alive(pid)) {
      progress(`lock ${name}: owner pid ${pid} is gone, taking it over`);
      rmSync(lock, { recursive: true, force: true });
      continue;
    }
    if (Date.now() - started > maxWaitMs) {
      throw new Error(`timed out after ${Math.round(maxWaitMs / 60_000)} min waiting for lock ${lock} held by ${holder}`);
    }
    if (Date.now() - lastSaid > 15_000) {
      progress(`waiting for lock ${name} (held by pid ${pid}) ...`);
      lastSaid = Date.now();
    }
    await sleep(500);
  }
  try {
    return await work();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

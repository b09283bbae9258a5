// A real InfluxDB 2.x OSS server (influxd) for tests.
//
// Obtaining it: there is no influxd package in the registries these machines reach, so it is built
// from source fetched by name from the Go module proxy (github.com/influxdata/influxdb/v2, pinned).
// influxd links the Flux engine's Rust library (libflux). InfluxData's own pkg-config wrapper
// (github.com/influxdata/pkg-config, the version pinned in influxdb's go.mod) answers cgo's
// `pkg-config flux` by running `cargo build --release` on the libflux sources inside the flux
// module (also from the Go module proxy); cargo fetches the crates from crates.io. The resulting
// binary is cached under cacheDir('influxd-<version>'), so this happens once per machine.
//
// Where things go: Go's module cache and build cache, and cargo's registry, stay in their normal
// places (`go env GOMODCACHE`, `go env GOCACHE`, $CARGO_HOME — ~/go/pkg/mod, ~/.cache/go-build,
// ~/.cargo). The pkg-config wrapper copies the flux sources and runs cargo inside
// $GOCACHE/pkgconfig/. Only the finished binary (and the wrapper binary) live in our cache.
//
// Running it: a throw-away data directory per start, bound to 127.0.0.1, then initial set-up
// through POST /api/v2/setup (org, bucket, operator token) and a DBRP mapping (database = bucket
// name, retention policy autogen, default) so InfluxQL works over the 1.x-compatible /query.
//
// Address: 127.0.0.1:<port> if a port is given, else CDNKIT_INFLUX_URL, else http://127.0.0.1:18086.
// A server already answering there is reused (started: false) and nothing is built or started; its
// org, bucket and token come from CDNKIT_INFLUX_ORG / _BUCKET / _TOKEN (defaults: the harness's own,
// so a server started by an earlier run of this harness is reused as is).

import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheDir } from '../cache.js';
import { isExecutable, mustRun, portInUse, readFileSafe, sleep, spawnChild, stopProcess, sweepStale, tailOfFile, withLock } from '../process.js';
import { HarnessError, progress, step } from '../progress.js';
import type { RunningService } from './types.js';

/** influxd release built from the Go module proxy. */
export const INFLUXD_VERSION = 'v2.7.12';
/** influxdata/pkg-config: the version influxdb v2.7.12's go.mod requires. */
const PKG_CONFIG_VERSION = 'v0.2.14';
/** Build tags from influxdb's GNUmakefile minus `assets` (the UI, which would be downloaded; not needed). */
const BUILD_TAGS = 'sqlite_foreign_keys,sqlite_json';

export interface RunningInflux extends RunningService {
  readonly name: 'influxdb';
  readonly org: string;
  readonly bucket: string;
  /** Operator (all-access) token. */
  readonly token: string;
}

export interface StartInfluxOptions {
  /** Port on 127.0.0.1; overrides CDNKIT_INFLUX_URL (default http://127.0.0.1:18086). */
  port?: number;
  org?: string;
  bucket?: string;
  token?: string;
}

/** The org, bucket and operator token the harness sets up (compose/test.yml sets up the same). */
export const DEFAULT_INFLUX_IDENTITY = { org: 'cdnkit', bucket: 'cdnkit', token: 'cdnkit-test-operator-token' };

// ---------------------------------------------------------------------------------------------
// obtain

/** Path of a cached influxd binary, building it first if needed. */
export async function obtainInfluxd(): Promise<string> {
  const dir = cacheDir(`influxd-${INFLUXD_VERSION}`);
  const bin = join(dir, 'influxd');
  if (isExecutable(bin)) return bin;

  // One build per machine at a time; waiters have no time limit, as a cold build takes as long as it takes.
  return withLock(`influxd-${INFLUXD_VERSION}-build`, () => buildInfluxd(dir, bin), { maxWaitMs: Infinity });
}

async function buildInfluxd(dir: string, bin: string): Promise<string> {
  if (isExecutable(bin)) return bin; // another process finished it while we waited
  await step('influxd: check build tools (go, cargo, cc, pkg-config)', async () => {
    // The system pkg-config is required too: InfluxData's wrapper looks it up on PATH and exits
    // without it, even though it answers for flux itself (Debian: apt-get install pkg-config).
    const tools = [['go', ['version']], ['cargo', ['--version']], ['cc', ['--version']], ['pkg-config', ['--version']]] as const;
    for (const [tool, args] of tools) {
      const r = await mustRun(tool, [...args]).catch((e: Error) => e);
      if (r instanceof Error) {
        throw new Error(`${tool} is needed to build influxd from source (${r.message})`);
      }
    }
  });

  const tools = join(dir, 'tools');
  mkdirSync(tools, { recursive: true });
  const pkgConfig = join(tools, 'pkg-config');
  if (!isExecutable(pkgConfig)) {
    await step(`influxd: build github.com/influxdata/pkg-config@${PKG_CONFIG_VERSION}`, () =>
      mustRun('go', ['install', `github.com/influxdata/pkg-config@${PKG_CONFIG_VERSION}`], {
        env: { ...process.env, GOBIN: tools },
        stream: true,
      }),
    );
  }

  const src = await step(`influxd: download github.com/influxdata/influxdb/v2@${INFLUXD_VERSION} (Go module proxy)`, async () => {
    const { stdout } = await mustRun('go', ['mod', 'download', '-json', `github.com/influxdata/influxdb/v2@${INFLUXD_VERSION}`]);
    const info = JSON.parse(stdout) as { Dir?: string; Error?: string };
    if (!info.Dir) throw new Error(info.Error ?? 'go mod download gave no Dir');
    return info.Dir;
  });

  const rust = await step('influxd: pick the Rust toolchain for libflux', rustToolchainEnv);

  // `go install pkg@version` refuses modules whose go.mod has replace directives (influxdb's has
  // one), so build inside the downloaded (read-only) module, which also uses its exact go.sum.
  const partial = join(dir, 'influxd.partial');
  // Where the wrapper copies flux's sources and runs cargo (silently; output only on failure):
  // watched by the heartbeat.
  const libfluxDir = await libfluxBuildDir(src);
  await step(
    `influxd: build ${INFLUXD_VERSION} with libflux (Go + cargo; first time takes many minutes on 2 cores)`,
    () =>
      mustRun(
        'go',
        [
          'build',
          '-v',
          '-tags',
          BUILD_TAGS,
          '-ldflags',
          `-s -w -X main.version=${INFLUXD_VERSION.slice(1)} -X main.commit=go-module-proxy`,
          '-o',
          partial,
          './cmd/influxd',
        ],
        {
          cwd: src,
          stream: true,
          heartbeatMs: 30_000,
          label: 'influxd build',
          heartbeatNote: () => libfluxState(libfluxDir),
          env: {
            ...process.env,
            PKG_CONFIG: pkgConfig,
            ...rust,
            // libflux's crates declare #![deny(warnings)]; today's rustc warns about things
            // rustc 1.72 did not (dead_code, mismatched_lifetime_syntaxes), which then fail the
            // build. RUSTFLAGS=--cap-lints=warn is not enough: pkg-config passes --target, and
            // then RUSTFLAGS skips host artefacts — flux-core is also a build-dependency (of
            // flux's build.rs). A RUSTC_WRAPPER caps lints for every rustc call instead.
            RUSTC_WRAPPER: capLintsWrapper(tools),
          },
        },
      ),
  );
  await step('influxd: check the built binary', async () => {
    const { stdout } = await mustRun(partial, ['version']);
    progress(`influxd: ${stdout.trim()}`);
  });
  renameSync(partial, bin);
  return bin;
}

/** $GOCACHE/pkgconfig/<flux module>@<version>/libflux: where influxdata/pkg-config builds libflux. */
async function libfluxBuildDir(influxdbSrc: string): Promise<string> {
  const gomod = readFileSync(join(influxdbSrc, 'go.mod'), 'utf8');
  const flux = /^\s*github\.com\/influxdata\/flux\s+(v\S+)/m.exec(gomod)?.[1] ?? 'unknown';
  const gocache = (await mustRun('go', ['env', 'GOCACHE'])).stdout.trim();
  return join(gocache, 'pkgconfig', `github.com/influxdata/flux@${flux}`, 'libflux');
}

/** What is happening with libflux, for the heartbeat (cargo's output is hidden by the wrapper). */
function libfluxState(libfluxDir: string): string {
  const release = join(libfluxDir, 'target', 'x86_64-unknown-linux-gnu', 'release');
  if (existsSync(join(release, 'libflux.a'))) return '; libflux (Rust) is built, Go compiling/linking';
  // One dep-info file per finished rustc run, for target and host (build-time) crates.
  let crates = 0;
  for (const dir of [release, join(libfluxDir, 'target', 'release')]) {
    try {
      crates += readdirSync(join(dir, 'deps')).filter((f) => f.endsWith('.d')).length;
    } catch {
      // not started
    }
  }
  if (crates > 0) return `; cargo is building libflux: ${crates} crates compiled so far`;
  return '; compiling Go packages, libflux (cargo) not started yet';
}

/** Writes the RUSTC_WRAPPER script that adds `--cap-lints warn` unless cargo already capped lints. */
function capLintsWrapper(tools: string): string {
  const path = join(tools, 'rustc-cap-lints');
  const script = [
    '#!/bin/sh',
    '# RUSTC_WRAPPER written by cdnkit src/local/services/influxdb.ts: cargo runs "<this> <rustc> <args>".',
    '# Caps lints at "warn" for crates cargo does not cap itself (libflux declares #![deny(warnings)]).',
    'rustc="$1"; shift',
    'for a in "$@"; do [ "$a" = "--cap-lints" ] && exec "$rustc" "$@"; done',
    'exec "$rustc" "$@" --cap-lints warn',
    '',
  ].join('\n');
  if (readFileSafe(path) !== script) writeFileSync(path, script, { mode: 0o755 });
  return path;
}

/**
 * flux pins `channel = "1.72"` in its rust-toolchain.toml; under rustup, cargo would then refuse to
 * run unless that old toolchain is installed (rustup downloads toolchains from static.rust-lang.org,
 * not a package registry). libflux builds with the current stable compiler (lints capped, above), so
 * point rustup at the toolchain active outside the flux tree. Without rustup the file is ignored.
 */
async function rustToolchainEnv(): Promise<Record<string, string>> {
  if (process.env.RUSTUP_TOOLCHAIN) return {};
  const out = await mustRun('rustup', ['show', 'active-toolchain'], { cwd: tmpdir() }).catch(() => undefined);
  const name = out?.stdout.trim().split(/\s+/)[0];
  if (name) progress(`influxd: libflux will be built with the Rust toolchain "${name}" (RUSTUP_TOOLCHAIN)`);
  return name ? { RUSTUP_TOOLCHAIN: name } : {};
}

// ---------------------------------------------------------------------------------------------
// run

/** Default address; the same port the global set-up uses, so separate runs meet on one server. */
export const DEFAULT_INFLUX_URL = 'http://127.0.0.1:18086';

const handles = new Map<string, Promise<RunningInflux>>();

/**
 * Starts (or reuses) influxd; idempotent per address within a process. The address is
 * 127.0.0.1:<port> when a port is given, else CDNKIT_INFLUX_URL, else DEFAULT_INFLUX_URL.
 * A server already answering there is reused (started: false): if it was never set up, it is set
 * up here; otherwise its token must be CDNKIT_INFLUX_TOKEN (or the harness default, for a server
 * this harness set up in another run).
 */
export function startInfluxDB(options: StartInfluxOptions = {}): Promise<RunningInflux> {
  const url = (
    options.port !== undefined ? `http://127.0.0.1:${options.port}` : process.env.CDNKIT_INFLUX_URL ?? DEFAULT_INFLUX_URL
  ).replace(/\/+$/, '');
  let handle = handles.get(url);
  if (!handle) {
    handle = obtainServer(url, {
      org: options.org ?? process.env.CDNKIT_INFLUX_ORG ?? DEFAULT_INFLUX_IDENTITY.org,
      bucket: options.bucket ?? process.env.CDNKIT_INFLUX_BUCKET ?? DEFAULT_INFLUX_IDENTITY.bucket,
      token: options.token ?? process.env.CDNKIT_INFLUX_TOKEN ?? DEFAULT_INFLUX_IDENTITY.token,
    });
    handles.set(url, handle);
    handle.catch(() => handles.delete(url));
  }
  return handle;
}

interface Identity {
  org: string;
  bucket: string;
  token: string;
}

async function obtainServer(url: string, id: Identity): Promise<RunningInflux> {
  if (await healthy(url)) return reuse(url, id);
  const { hostname, port: portText, protocol } = new URL(url);
  const port = Number(portText || 80);
  if (protocol !== 'http:' || !['127.0.0.1', 'localhost'].includes(hostname)) {
    throw new HarnessError(
      `influxdb: reach ${url}`,
      new Error(`no InfluxDB answers at ${url}, and it is not a local http address to start one on`),
    );
  }
  const bin = await obtainInfluxd();
  return withLock(
    `influxdb-${port}`,
    async () => {
      if (await healthy(url)) return reuse(url, id); // another process started it meanwhile
      if (await portInUse(port)) {
        throw new HarnessError(`influxdb: start on port ${port}`, new Error(`port ${port} is in use by something that is not InfluxDB`));
      }
      return launch(bin, port, id);
    },
    { maxWaitMs: 10 * 60_000 },
  );
}

async function reuse(url: string, id: Identity): Promise<RunningInflux> {
  const running: RunningInflux = { name: 'influxdb', url, started: false, ...id, stop: async () => {} };
  await step(`influxdb: reuse the server at ${url} (org "${id.org}", bucket "${id.bucket}")`, async () => {
    const setup = (await api(running, 'GET', '/api/v2/setup', undefined, { noAuth: true })) as { allowed?: boolean };
    if (setup.allowed) await onboard(running);
    else {
      const res = await fetch(`${url}/api/v2/orgs?${new URLSearchParams({ org: id.org })}`, {
        headers: { authorization: `Token ${id.token}` },
      });
      if (res.status === 401) throw new Error(`the server at ${url} is set up with another token: set CDNKIT_INFLUX_TOKEN`);
      if (!res.ok) throw new Error(`org ${id.org} not found at ${url} (HTTP ${res.status}): set CDNKIT_INFLUX_ORG`);
      await ensureDbrp(running);
    }
  });
  return running;
}

async function launch(bin: string, port: number, id: Identity): Promise<RunningInflux> {
  const url = `http://127.0.0.1:${port}`;
  sweepStale('cdnkit-influxd-');
  const data = mkdtempSync(join(tmpdir(), 'cdnkit-influxd-'));
  const logPath = join(data, 'influxd.log');
  let child: ChildProcess | undefined;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    handles.delete(url);
    if (child) await step('influxdb: stop influxd', () => stopProcess(child!, 'influxdb', 15_000));
    if (!process.env.CDNKIT_KEEP_DATA) rmSync(data, { recursive: true, force: true });
  };

  try {
    child = await step(`influxdb: start influxd on ${url} (data in ${data})`, async () => {
      const logFd = openSync(logPath, 'a');
      // Only our flags: no INFLUXD_* from the environment, no config file from the working directory.
      const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('INFLUXD_')));
      env.INFLUXD_CONFIG_PATH = data;
      const proc = spawnChild(
        bin,
        [
          '--bolt-path', join(data, 'influxd.bolt'),
          '--engine-path', join(data, 'engine'),
          '--sqlite-path', join(data, 'influxd.sqlite'),
          '--http-bind-address', `127.0.0.1:${port}`,
          '--reporting-disabled',
          '--ui-disabled',
          '--log-level', 'info',
        ],
        { cwd: data, env, stdio: ['ignore', logFd, logFd] },
      );
      closeSync(logFd);
      writeFileSync(join(data, 'owner.pids'), `${process.pid} ${proc.pid ?? ''}\n`);
      let exited: string | undefined;
      proc.on('exit', (code, signal) => (exited = `influxd exited with ${code ?? signal}`));
      proc.on('error', (err) => (exited = `influxd could not be started: ${err.message}`));
      child = proc;
      const deadline = Date.now() + 60_000;
      while (!(await healthy(url))) {
        if (exited) throw new Error(`${exited}\n${tailOfFile(logPath)}`);
        if (Date.now() > deadline) throw new Error(`no healthy /health within 60 s\n${tailOfFile(logPath)}`);
        await sleep(200);
      }
      return proc;
    });
    const running: RunningInflux = { name: 'influxdb', url, started: true, ...id, stop };
    await step(`influxdb: set up org "${id.org}", bucket "${id.bucket}", DBRP ${id.bucket}/autogen`, () => onboard(running));
    return running;
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
}

/** First-time set-up (POST /api/v2/setup) with our org, bucket and operator token, then the DBRP. */
async function onboard(s: RunningInflux): Promise<void> {
  await api(
    s,
    'POST',
    '/api/v2/setup',
    { username: 'cdnkit', password: 'cdnkit-test-password', org: s.org, bucket: s.bucket, token: s.token, retentionPeriodSeconds: 0 },
    { noAuth: true },
  );
  await ensureDbrp(s);
}

/**
 * Creates a bucket in the server's org with an InfluxQL DBRP mapping (database = bucket name,
 * retention policy autogen, default), for tests that need a clean measurement space — field
 * types, for one, are fixed per shard once written. Returns the bucket's id.
 */
export async function createBucket(s: RunningInflux, bucket: string): Promise<string> {
  const orgs = (await api(s, 'GET', `/api/v2/orgs?${new URLSearchParams({ org: s.org })}`)) as { orgs?: { id: string }[] };
  const orgID = orgs.orgs?.[0]?.id;
  if (!orgID) throw new Error(`org ${s.org} not found`);
  const created = (await api(s, 'POST', '/api/v2/buckets', { orgID, name: bucket, retentionRules: [] })) as { id: string };
  await ensureDbrp({ ...s, bucket });
  return created.id;
}

/** Creates the bucket (with its DBRP mapping) unless it exists; makes sure an existing one has the mapping. */
export async function ensureBucket(s: RunningInflux, bucket: string): Promise<void> {
  // Some 2.x versions answer a name that matches nothing with 404, others with an empty list.
  const found = (await api(s, 'GET', `/api/v2/buckets?${new URLSearchParams({ org: s.org, name: bucket })}`).catch((error: Error) => {
    if (error.message.includes('HTTP 404')) return {};
    throw error;
  })) as { buckets?: unknown[] };
  if (found.buckets && found.buckets.length > 0) await ensureDbrp({ ...s, bucket });
  else await createBucket(s, bucket);
}

async function ensureDbrp(s: RunningInflux): Promise<void> {
  const q = new URLSearchParams({ org: s.org, db: s.bucket });
  const found = (await api(s, 'GET', `/api/v2/dbrps?${q}`)) as { content?: unknown[] };
  if (found.content && found.content.length > 0) return;
  const buckets = (await api(s, 'GET', `/api/v2/buckets?${new URLSearchParams({ org: s.org, name: s.bucket })}`)) as {
    buckets?: { id: string; orgID: string }[];
  };
  const b = buckets.buckets?.[0];
  if (!b) throw new Error(`bucket ${s.bucket} not found in org ${s.org}`);
  await api(s, 'POST', '/api/v2/dbrps', {
    bucketID: b.id,
    orgID: b.orgID,
    database: s.bucket,
    retention_policy: 'autogen',
    default: true,
  });
}

async function api(
  s: { url: string; token: string },
  method: string,
  path: string,
  body?: unknown,
  opts: { noAuth?: boolean } = {},
): Promise<unknown> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (!opts.noAuth) headers.authorization = `Token ${s.token}`;
  const res = await fetch(s.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} -> HTTP ${res.status}: ${text}`);
  return text ? (JSON.parse(text) as unknown) : undefined;
}

async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url.replace(/\/+$/, '')}/health`, { signal: AbortSignal.timeout(2000) });
    if (!res.ok) return false;
    const body = (await res.json()) as { status?: string };
    return body.status === 'pass';
  } catch {
    return false;
  }
}

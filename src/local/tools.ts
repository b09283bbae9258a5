// The real programs the tests run generated artifacts through, obtained on first use and cached
// outside the repository (see cache.ts):
//
//   falco            Go module proxy, built with the local Go toolchain   -> <cache>/tools/falco-<tag>/bin
//   consul-template  Go module proxy, built with the local Go toolchain   -> <cache>/tools/consul-template-<tag>/bin
//   docker-compose   Go module proxy, built with the local Go toolchain   -> <cache>/tools/docker-compose-<tag>/bin
//   telegraf         Go module proxy, built trimmed (build tags)          -> <cache>/tools/telegraf-<tag>/bin
//   varnishd, varnishncsa            Debian package `varnish`                 (apt-get, needs root)
//   rsyslogd + omkafka               Debian packages `rsyslog`, `rsyslog-kafka` (apt-get, needs root)
//
// Every ensureX() is idempotent and cheap once the tool is there (a stat, a dpkg-query and one
// `--version` run). Concurrency: each function is safe to call from several vitest workers at the
// same time — installs run under a lock directory in <cache>/locks, and whoever waits re-checks
// after the lock is released, so nothing is installed twice. The intended use is still that the
// vitest globalSetup calls them once up front (so a cold first run prints its progress in one
// place and no test hits its own timeout while a build runs); tests then call them again to get
// the paths, which is the cached fast path.
//
// A missing tool that cannot be obtained fails with a HarnessError naming the step and the tail
// of the failing command's stderr. Nothing here ever skips a test.

import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { basename, delimiter, dirname, join } from 'node:path';
import { cacheDir } from './cache.js';
import { isExecutable, mustRun, runCommand, sleep, tailOf, withLock } from './process.js';
import { HarnessError, progress, step } from './progress.js';

// ---------------------------------------------------------------------------------------------
// Pinned versions
// ---------------------------------------------------------------------------------------------

/**
 * falco, the Fastly VCL linter/simulator. v1.21.1 (2025-12-07) is the newest release the Go module
 * proxy on these machines serves for the v1 module path (v1.14.0–v1.21.0 and the v2 module path
 * answer 403 there).
 */
export const FALCO_VERSION = 'v1.21.1';
export const FALCO_MODULE = 'github.com/ysugimoto/falco';
export const FALCO_PACKAGE = 'github.com/ysugimoto/falco/cmd/falco';

/** consul-template v0.43.0 (2026-09-10), the newest tag the module proxy serves. */
export const CONSUL_TEMPLATE_VERSION = 'v0.43.0';
export const CONSUL_TEMPLATE_MODULE = 'github.com/hashicorp/consul-template';
export const CONSUL_TEMPLATE_PACKAGE = 'github.com/hashicorp/consul-template';

/**
 * Docker Compose, run standalone as `docker-compose` (its `config` needs no Docker engine). v5.5.1 is
 * the newest release the module proxy here serves that builds: v5.6.0 and v5.7.0 require
 * github.com/DefangLabs/secret-detector@v0.0.0-20260916192156-3e28d7ed64df, which the proxy answers
 * with 403, and v5.7.0 also needs Go 1.26.10. From v5 on the module path ends in /v5 (v2 before).
 */
export const DOCKER_COMPOSE_VERSION = 'v5.5.1';
export const DOCKER_COMPOSE_MODULE = 'github.com/docker/compose/v5';
export const DOCKER_COMPOSE_PACKAGE = 'github.com/docker/compose/v5/cmd';

/**
 * Telegraf, the peer the bench compares the bridges with (Kafka -> InfluxDB / Elasticsearch).
 * v1.37.2 (MIT). Built trimmed to the plugins the comparison uses (Telegraf's `custom` build tag
 * leaves every plugin out unless named): 2.4 min on this busy 2-core machine, a 43 MB binary.
 */
export const TELEGRAF_VERSION = 'v1.37.2';
export const TELEGRAF_MODULE = 'github.com/influxdata/telegraf';
export const TELEGRAF_PACKAGE = 'github.com/influxdata/telegraf/cmd/telegraf';
export const TELEGRAF_BUILD_TAGS = ['custom', 'inputs.kafka_consumer', 'outputs.influxdb_v2', 'outputs.elasticsearch', 'parsers.influx', 'parsers.json_v2'];

/**
 * Debian bookworm's varnish. The upstream version (what `varnishd -V` prints) is enforced; the
 * Debian revision is recorded and only reported when it differs, because bookworm-security keeps
 * just its newest build, so an exact `varnish=<rev>` pin would break after the next security update.
 */
/** Prometheus 3.16.0: the Go module's v0.3xx.y tags are Prometheus 3.xx.y. */
export const PROMETHEUS_VERSION = '3.16.0';
export const PROMETHEUS_MODULE_VERSION = 'v0.316.0';
export const PROMETHEUS_MODULE = 'github.com/prometheus/prometheus';
export const PROMETHEUS_PACKAGE = 'github.com/prometheus/prometheus/cmd/prometheus';

export const VARNISH_VERSION = '7.1.1';
export const VARNISH_DEB_VERSION = '7.1.1-2+deb12u1';

/** Debian bookworm's rsyslog and rsyslog-kafka (omkafka); same policy as varnish. */
export const RSYSLOG_VERSION = '8.2302.0';
export const RSYSLOG_DEB_VERSION = '8.2302.0-1+deb12u2';

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;]*m/g, '');
}

/** Looks a program up on PATH (plus the sbin folders a non-login PATH may lack). */
function which(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/local/go/bin'];
  for (const dir of dirs) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Once per process (once across processes: withLock)
// ---------------------------------------------------------------------------------------------

const memo = new Map<string, Promise<unknown>>();

/** Shares one in-flight/finished promise per key inside this process; a failure is not cached. */
function once<T>(key: string, work: () => Promise<T>): Promise<T> {
  let promise = memo.get(key) as Promise<T> | undefined;
  if (!promise) {
    promise = work();
    memo.set(key, promise);
    promise.catch(() => memo.delete(key));
  }
  return promise;
}

// ---------------------------------------------------------------------------------------------
// Go tools
// ---------------------------------------------------------------------------------------------

interface GoTool {
  name: string;
  module: string;
  pkg: string;
  version: string;
  ldflags?: string;
  /** Go build tags (`-tags`). */
  tags?: string[];
  /** Build a static binary without cgo (CGO_ENABLED=0). */
  noCgo?: boolean;
  /** Arguments that make the binary print its version, and the text that output must contain. */
  versionArgs: string[];
  versionText: string;
}

async function binaryReports(bin: string, tool: GoTool): Promise<boolean> {
  try {
    const result = await runCommand(bin, tool.versionArgs, { timeoutMs: 20_000 });
    return stripAnsi(result.stdout + result.stderr).includes(tool.versionText);
  } catch {
    return false;
  }
}

/**
 * Builds `tool.pkg` at `tool.version` into <cache>/tools/<name>-<version>/bin.
 *
 * Equivalent to `GOBIN=<that folder> go install <pkg>@<version>`, but done as `go get` + `go install`
 * inside a throw-away wrapper module: `go install pkg@version` also asks the proxy for the module's
 * version list (to report deprecations), and the module proxy here answers that with 403 for
 * falco, which makes the plain form fail; and it refuses a module whose go.mod has exclude
 * directives, as docker compose's does. The wrapper module requires only the tool, so minimal
 * version selection picks the tool's own dependency versions (its excludes aside: compose's name
 * modules it does not link).
 * The binary is built into a staging folder and renamed into place, so a half-built file never
 * counts as installed.
 */
function ensureGoTool(tool: GoTool): Promise<string> {
  return step(`${tool.name} ${tool.version}: ensure installed`, () => installGoTool(tool));
}

async function installGoTool(tool: GoTool): Promise<string> {
  const label = `${tool.name} ${tool.version}`;
  const root = cacheDir('tools', `${tool.name}-${tool.version}`);
  const binDir = join(root, 'bin');
  const bin = join(binDir, tool.name);
  if (isExecutable(bin) && (await binaryReports(bin, tool))) return bin;

  return withLock(`${tool.name}-${tool.version}`, async () => {
    if (isExecutable(bin) && (await binaryReports(bin, tool))) return bin; // another worker built it meanwhile
    progress(`${label}: not in the cache (${bin}), building it from the Go module proxy`);
    const go = await step(`${label}: find the Go toolchain`, async () => {
      const found = which('go');
      if (!found) throw new Error('`go` is not on PATH; install Go >= 1.24 (https://go.dev/dl/) to build this tool');
      const { stdout } = await mustRun(found, ['version']);
      progress(`  using ${found}: ${stdout.trim()}`);
      return found;
    });
    const work = join(root, 'build');
    const staging = join(root, 'staging');
    rmSync(work, { recursive: true, force: true });
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    writeFileSync(join(work, 'go.mod'), `module cdnkit.local/tools/${tool.name}\n`);
    // The Go module and build caches stay the user's normal ones (GOMODCACHE, GOCACHE): shared
    // with other Go builds, and a rebuild after `rm -rf <cache>/tools` is quick.
    const env: NodeJS.ProcessEnv = { ...process.env, GO111MODULE: 'on', GOFLAGS: goFlags(), GOBIN: staging };
    if (tool.noCgo) env.CGO_ENABLED = '0';
    // The build tags go to `go get` too, so that it resolves the package graph `go install` builds.
    const tags = tool.tags ? [`-tags=${tool.tags.join(',')}`] : [];
    await step(`${label}: go get ${tool.pkg}@${tool.version}`, () =>
      mustRun(go, ['get', ...tags, `${tool.pkg}@${tool.version}`], { cwd: work, env, stream: true }),
    );
    const args = ['install', '-trimpath', ...tags];
    if (tool.ldflags) args.push(`-ldflags=${tool.ldflags}`);
    args.push(tool.pkg);
    await step(`${label}: go install ${tool.pkg} (GOBIN=${binDir}; a cold build takes 1-2 min)`, async () => {
      await mustRun(go, args, { cwd: work, env, stream: true });
      // go install names the binary after the package's last path element (compose's is `cmd`).
      const built = join(staging, basename(tool.pkg));
      if (!isExecutable(built)) throw new Error(`go install finished but ${built} is missing`);
      mkdirSync(binDir, { recursive: true });
      renameSync(built, bin);
    });
    rmSync(work, { recursive: true, force: true });
    rmSync(staging, { recursive: true, force: true });
    await step(`${label}: check the installed binary`, async () => {
      const result = await mustRun(bin, tool.versionArgs);
      const printed = stripAnsi(result.stdout + result.stderr).trim();
      if (!printed.includes(tool.versionText)) {
        throw new Error(`${bin} ${tool.versionArgs.join(' ')} printed "${printed}", expected it to contain "${tool.versionText}"`);
      }
    });
    return bin;
  });
}

/** GOFLAGS from the environment, minus settings that cannot work in the wrapper module. */
function goFlags(): string {
  return (process.env.GOFLAGS ?? '')
    .split(/\s+/)
    .filter((flag) => flag && !/^-mod=/.test(flag))
    .join(' ');
}

/** Path to a falco binary (`falco -V` prints FALCO_VERSION). */
export function ensureFalco(): Promise<string> {
  return once('falco', () =>
    ensureGoTool({
      name: 'falco',
      module: FALCO_MODULE,
      pkg: FALCO_PACKAGE,
      version: FALCO_VERSION,
      // falco's release builds stamp the version the same way; without it `falco -V` prints nothing.
      ldflags: `-X main.version=${FALCO_VERSION}`,
      versionArgs: ['-V'],
      versionText: FALCO_VERSION,
    }),
  );
}

/** Path to a consul-template binary (`consul-template -v` prints "consul-template v0.43.0 ()"). */
export function ensureConsulTemplate(): Promise<string> {
  return once('consul-template', () =>
    ensureGoTool({
      name: 'consul-template',
      module: CONSUL_TEMPLATE_MODULE,
      pkg: CONSUL_TEMPLATE_PACKAGE,
      version: CONSUL_TEMPLATE_VERSION,
      versionArgs: ['-v'],
      versionText: `consul-template ${CONSUL_TEMPLATE_VERSION}`,
    }),
  );
}

/**
 * Path to a prometheus binary (`prometheus --version` prints "prometheus, version 3.16.0 ...").
 * Built with `remove_all_sd`: the tests scrape bridges by static_configs, and without the cloud
 * service discoveries (AWS, Azure, GCE, Kubernetes...) the cold build is a fraction of the full one.
 * The web UI's assets are not embedded (no `builtinassets`): the HTTP API is all the tests use.
 */
export function ensurePrometheus(): Promise<string> {
  return once('prometheus', () =>
    ensureGoTool({
      name: 'prometheus',
      module: PROMETHEUS_MODULE,
      pkg: PROMETHEUS_PACKAGE,
      version: PROMETHEUS_MODULE_VERSION,
      ldflags: `-X github.com/prometheus/common/version.Version=${PROMETHEUS_VERSION}`,
      tags: ['remove_all_sd'],
      versionArgs: ['--version'],
      versionText: `prometheus, version ${PROMETHEUS_VERSION}`,
    }),
  );
}

/** Path to a docker-compose binary (`docker-compose version` prints "Docker Compose version v5.5.1"). */
export function ensureDockerCompose(): Promise<string> {
  return once('docker-compose', () =>
    ensureGoTool({
      name: 'docker-compose',
      module: DOCKER_COMPOSE_MODULE,
      pkg: DOCKER_COMPOSE_PACKAGE,
      version: DOCKER_COMPOSE_VERSION,
      // As compose's Makefile stamps release builds; without it `version` prints "dev".
      ldflags: `-X ${DOCKER_COMPOSE_MODULE}/internal.Version=${DOCKER_COMPOSE_VERSION}`,
      versionArgs: ['version'],
      versionText: `Docker Compose version ${DOCKER_COMPOSE_VERSION}`,
    }),
  );
}

/** Path to a trimmed telegraf binary (`telegraf --version` prints "Telegraf 1.37.2 ..."). */
export function ensureTelegraf(): Promise<string> {
  return once('telegraf', () =>
    ensureGoTool({
      name: 'telegraf',
      module: TELEGRAF_MODULE,
      pkg: TELEGRAF_PACKAGE,
      version: TELEGRAF_VERSION,
      // As Telegraf's Makefile stamps release builds; without it `--version` prints "unknown".
      ldflags: `-X ${TELEGRAF_MODULE}/internal.Version=${TELEGRAF_VERSION.slice(1)}`,
      tags: TELEGRAF_BUILD_TAGS,
      noCgo: true,
      versionArgs: ['--version'],
      versionText: `Telegraf ${TELEGRAF_VERSION.slice(1)}`,
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Debian packages
// ---------------------------------------------------------------------------------------------

/** Installed version per package ('ii' state only). */
async function dpkgInstalled(packages: readonly string[]): Promise<Map<string, string>> {
  if (!which('dpkg-query')) {
    throw new Error(
      `dpkg-query not found: this harness installs ${packages.join(', ')} with apt-get (Debian/Ubuntu); ` +
        'on another system install them yourself',
    );
  }
  // Exit code 1 when some package is unknown to dpkg; the lines for the others are still printed.
  const result = await runCommand('dpkg-query', ['-W', '-f=${Package} ${db:Status-Abbrev} ${Version}\n', ...packages]);
  const installed = new Map<string, string>();
  for (const line of result.stdout.split('\n')) {
    const [name, status, version] = line.trim().split(/\s+/);
    if (name && status === 'ii' && version) installed.set(name.replace(/:.*$/, ''), version);
  }
  return installed;
}

async function dpkgFiles(pkg: string): Promise<string[]> {
  const { stdout } = await mustRun('dpkg-query', ['-L', pkg]);
  return stdout.split('\n').map((line) => line.trim()).filter(Boolean);
}

function asRoot(command: string, args: string[]): [string, string[]] {
  if (process.getuid?.() === 0) return [command, args];
  if (which('sudo')) return ['sudo', ['-n', command, ...args]];
  throw new Error(`installing packages needs root: run the tests as root, or install them first: apt-get install ${args.join(' ')}`);
}

/** Packages apt has no installation candidate for (unknown until `apt-get update`). */
async function withoutCandidate(packages: readonly string[]): Promise<string[]> {
  const { stdout } = await runCommand('apt-cache', ['policy', ...packages]);
  return packages.filter((pkg) => {
    const block = stdout.split(/\n(?=\S)/).find((b) => b.startsWith(`${pkg}:`));
    const candidate = block?.match(/Candidate:\s*(\S+)/)?.[1];
    return !candidate || candidate === '(none)';
  });
}

const POLICY_RC_D = '/usr/sbin/policy-rc.d';
const APT_LOCK_WAIT = ['-o', 'DPkg::Lock::Timeout=600'];

/** Runs an apt-get command, retrying while another apt/dpkg holds a lock it does not wait for. */
async function aptGet(args: string[]): Promise<void> {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive', NEEDRESTART_MODE: 'l' };
  const [command, argv] = asRoot('apt-get', [...APT_LOCK_WAIT, ...args]);
  for (let attempt = 1; ; attempt++) {
    const result = await runCommand(command, argv, { env, stream: true, heartbeatMs: 10_000, timeoutMs: 30 * 60_000 });
    if (result.code === 0) return;
    const locked = /Could not get lock|Unable to lock|is another process using it/i.test(result.stderr);
    if (!locked || attempt >= 60) {
      throw new Error(`\`${[command, ...argv].join(' ')}\` exited with code ${result.code}; output tail:\n${tailOf(result.stderr || result.stdout)}`);
    }
    progress(`  apt/dpkg is locked by another process, retrying in 10 s (attempt ${attempt})`);
    await sleep(10_000);
  }
}

function runningPids(comm: string): Set<number> {
  const pids = new Set<number>();
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === comm) pids.add(Number(entry));
      } catch {
        /* exited meanwhile */
      }
    }
  } catch {
    /* no /proc */
  }
  return pids;
}

/**
 * Installs Debian packages that are not installed yet, without letting their maintainer scripts
 * start system services: a policy-rc.d that answers 101 ("action forbidden") is put in place for
 * the install when none exists (invoke-rc.d and deb-systemd-invoke both honour it).
 */
async function ensureDebPackages(label: string, packages: readonly string[], daemons: readonly string[]): Promise<Map<string, string>> {
  let installed = await dpkgInstalled(packages);
  if (packages.every((pkg) => installed.has(pkg))) return installed;

  return withLock('apt', async () => {
    installed = await dpkgInstalled(packages);
    const missing = packages.filter((pkg) => !installed.has(pkg));
    if (missing.length === 0) return installed;
    progress(`${label}: Debian packages not installed: ${missing.join(', ')}`);

    const unknown = await withoutCandidate(missing);
    if (unknown.length > 0) {
      await step(`${label}: apt-get update (apt does not know ${unknown.join(', ')} yet)`, () => aptGet(['update']));
      const still = await withoutCandidate(missing);
      if (still.length > 0) throw new HarnessError(`${label}: find packages`, new Error(`apt has no candidate for ${still.join(', ')} even after apt-get update`));
    }

    const before = new Map(daemons.map((d) => [d, runningPids(d)]));
    let ownPolicy = false;
    await step(`${label}: apt-get install ${missing.join(' ')}`, async () => {
      if (!existsSync(POLICY_RC_D)) {
        const [command, argv] = asRoot('sh', ['-c', `printf '#!/bin/sh\\nexit 101\\n' > ${POLICY_RC_D} && chmod 755 ${POLICY_RC_D}`]);
        await mustRun(command, argv);
        ownPolicy = true;
      } else if (!/exit\s+101/.test(readFileSync(POLICY_RC_D, 'utf8'))) {
        progress(`  note: ${POLICY_RC_D} exists and may allow services to start; leaving it as it is`);
      }
      try {
        await aptGet(['install', '-y', '--no-install-recommends', ...missing]);
      } finally {
        if (ownPolicy) {
          const [command, argv] = asRoot('rm', ['-f', POLICY_RC_D]);
          await runCommand(command, argv);
        }
      }
    });
    for (const daemon of daemons) {
      const started = [...runningPids(daemon)].filter((pid) => !before.get(daemon)?.has(pid));
      if (started.length > 0) progress(`  WARNING: the install started ${daemon} (pid ${started.join(', ')}); the tests do not use it`);
    }
    installed = await dpkgInstalled(packages);
    const absent = packages.filter((pkg) => !installed.has(pkg));
    if (absent.length > 0) throw new HarnessError(`${label}: apt-get install`, new Error(`still not installed: ${absent.join(', ')}`));
    return installed;
  });
}

function checkDebVersion(pkg: string, installed: string | undefined, expected: string): void {
  if (installed !== expected) {
    progress(`  note: ${pkg} ${installed} is installed; the harness was written against ${expected}`);
  }
}

async function fileFrom(pkg: string, suffix: string): Promise<string> {
  const path = (await dpkgFiles(pkg)).find((file) => file.endsWith(suffix) && isExecutableOrFile(file));
  if (!path) throw new Error(`package ${pkg} is installed but has no file ending in ${suffix}`);
  return path;
}

function isExecutableOrFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

export interface Varnish {
  varnishd: string;
  varnishncsa: string;
  /** Upstream version printed by `varnishd -V`, e.g. "7.1.1". */
  version: string;
  /** Installed Debian package version, e.g. "7.1.1-2+deb12u1". */
  debVersion: string;
}

/** varnishd and varnishncsa from Debian's `varnish` package (installed with apt-get when missing). */
export function ensureVarnish(): Promise<Varnish> {
  return once('varnish', () =>
    step(`varnish ${VARNISH_VERSION}: ensure installed`, async () => {
      const installed = await ensureDebPackages('varnish', ['varnish'], ['varnishd']);
      const debVersion = installed.get('varnish')!;
      checkDebVersion('varnish', debVersion, VARNISH_DEB_VERSION);
      const varnishd = await fileFrom('varnish', '/sbin/varnishd');
      const varnishncsa = await fileFrom('varnish', '/bin/varnishncsa');
      const version = await printedVersion(varnishd, ['-V'], /varnish-(\d+\.\d+\.\d+)/);
      const ncsaVersion = await printedVersion(varnishncsa, ['-V'], /varnish-(\d+\.\d+\.\d+)/);
      if (version !== VARNISH_VERSION || ncsaVersion !== VARNISH_VERSION) {
        throw new Error(`varnishd reports ${version} and varnishncsa ${ncsaVersion}; the harness is pinned to ${VARNISH_VERSION}`);
      }
      return { varnishd, varnishncsa, version, debVersion };
    }),
  );
}

export interface Rsyslog {
  rsyslogd: string;
  /** Upstream version printed by `rsyslogd -v`, e.g. "8.2302.0". */
  version: string;
  debVersion: string;
  /** rsyslog's compiled-in module folder (holds imtcp.so, omkafka.so); configs need no path. */
  moduleDir: string;
  omkafka: string;
}

/** rsyslogd with the omkafka module, from Debian's `rsyslog` and `rsyslog-kafka` packages. */
export function ensureRsyslog(): Promise<Rsyslog> {
  return once('rsyslog', () =>
    step(`rsyslog ${RSYSLOG_VERSION} + omkafka: ensure installed`, async () => {
      const installed = await ensureDebPackages('rsyslog', ['rsyslog', 'rsyslog-kafka'], ['rsyslogd']);
      const debVersion = installed.get('rsyslog')!;
      checkDebVersion('rsyslog', debVersion, RSYSLOG_DEB_VERSION);
      checkDebVersion('rsyslog-kafka', installed.get('rsyslog-kafka'), RSYSLOG_DEB_VERSION);
      if (installed.get('rsyslog-kafka') !== debVersion) {
        throw new Error(`rsyslog ${debVersion} and rsyslog-kafka ${installed.get('rsyslog-kafka')} differ; omkafka would not load`);
      }
      const rsyslogd = await fileFrom('rsyslog', '/sbin/rsyslogd');
      const omkafka = await fileFrom('rsyslog-kafka', '/omkafka.so');
      const version = await printedVersion(rsyslogd, ['-v'], /rsyslogd\s+(\d+\.\d+\.\d+)/);
      if (version !== RSYSLOG_VERSION) throw new Error(`rsyslogd reports ${version}; the harness is pinned to ${RSYSLOG_VERSION}`);
      return { rsyslogd, version, debVersion, moduleDir: dirname(omkafka), omkafka };
    }),
  );
}

async function printedVersion(bin: string, args: string[], pattern: RegExp): Promise<string> {
  const result = await mustRun(bin, args, { timeoutMs: 20_000 });
  const match = (result.stdout + result.stderr).match(pattern);
  if (!match?.[1]) throw new Error(`could not find a version in the output of ${basename(bin)} ${args.join(' ')}: ${tailOf(result.stdout + result.stderr, 3)}`);
  return match[1];
}

// ---------------------------------------------------------------------------------------------------------
// Tenant consumers of the onboarding bundle: kcat (Debian) and confluent-kafka (PyPI).

export const KCAT_DEB_VERSION = '1.7.1-2';
export const CONFLUENT_KAFKA_VERSION = '2.16.1';

/** kcat from Debian's `kcat` package (installed with apt-get when missing). */
export function ensureKcat(): Promise<string> {
  return once('kcat', () =>
    step('kcat: ensure installed', async () => {
      const installed = await ensureDebPackages('kcat', ['kcat'], []);
      checkDebVersion('kcat', installed.get('kcat'), KCAT_DEB_VERSION);
      return fileFrom('kcat', '/bin/kcat');
    }),
  );
}

export interface ConfluentKafka {
  /** A Python with confluent-kafka installed (a venv in the cache). */
  python: string;
  /** The librdkafka the wheel carries (2.6.1 or newer: SCRAM that Kafka 4 accepts). */
  librdkafka: string;
}

/** confluent-kafka from PyPI, pinned, in a venv under the cache (pip, first run only). */
export function ensureConfluentKafka(): Promise<ConfluentKafka> {
  return once('confluent-kafka', () =>
    step(`confluent-kafka ${CONFLUENT_KAFKA_VERSION}: ensure installed (PyPI)`, async () => {
      const root = cacheDir('tools', `confluent-kafka-${CONFLUENT_KAFKA_VERSION}`);
      const venv = join(root, 'venv');
      const python = join(venv, 'bin', 'python');
      const done = join(root, '.complete');
      if (!existsSync(done)) {
        await withLock(`confluent-kafka-${CONFLUENT_KAFKA_VERSION}`, async () => {
          if (existsSync(done)) return;
          rmSync(venv, { recursive: true, force: true });
          await mustRun('python3', ['-m', 'venv', venv], { label: 'python3 -m venv' });
          await mustRun(join(venv, 'bin', 'pip'), ['install', '--quiet', `confluent-kafka==${CONFLUENT_KAFKA_VERSION}`], { label: 'pip install confluent-kafka', heartbeatMs: 10_000 });
          writeFileSync(done, `${CONFLUENT_KAFKA_VERSION}\n`);
        });
      }
      const libs = readdirSync(venv, { recursive: true, encoding: 'utf8' }).filter((f) => /^lib\/python[^/]+\/site-packages\/confluent_kafka\.libs\/librdkafka-[^/]*\.so\.1$/.test(f));
      if (libs.length !== 1) throw new Error(`confluent-kafka ${CONFLUENT_KAFKA_VERSION} in ${venv} carries ${libs.length} librdkafka libraries, expected one`);
      return { python, librdkafka: join(venv, libs[0]!) };
    }),
  );
}

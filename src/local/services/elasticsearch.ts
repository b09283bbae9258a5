// A real Elasticsearch node for the tests, from the integ-test-zip distribution on Maven Central
// (org.elasticsearch.distribution.integ-test-zip:elasticsearch:<version>:zip): the server with a minimal
// module set (transport-netty4, x-pack-core, x-pack-security, apm) and no bundled JDK. 8.x runs on Java 17.
//
// What the integ-test-zip does NOT have (so tests and generated artifacts must not rely on them): data
// streams, ILM, ingest pipelines' common processors, painless scripts, analysis-common, mapper-extras
// (scaled_float, match_only_text), and the `GET /` info endpoint (the client's `info()` fails: use
// `cluster.health()`). Composable index templates, bulk, search and the core field types all work.
//
// With `security: true` (on a private port), the node runs as Elasticsearch 8 ships by default:
// the security module on, HTTPS with a throwaway CA, and a superuser `cdnkit` in the file realm
// (created by the distribution's own elasticsearch-users tool); `security` on the handle says how in.
//
// Elasticsearch refuses to run as root ("can not run elasticsearch as root", no override in 8.x). When the
// harness runs as root it runs the node as a dedicated unprivileged system user (CDNKIT_ES_USER, default
// `cdnkit-es`, created with useradd on first use); the install in the cache stays owned by root and
// read-only to it. If that user cannot reach the cache (e.g. it lives under /root, mode 0700), the node
// runs from a hard-linked mirror of the install in its temp dir (costs milliseconds, no copy).
import { spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import {
  chownSync,
  closeSync,
  copyFileSync,
  createWriteStream,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { cacheDir } from '../cache.js';
import { exitOf, isLocal, portInUse, spawnChild, sleep, stopProcess, sweepStale, tailOfFile, withLock } from '../process.js';
import { HarnessError, progress, step } from '../progress.js';
import { makeCertificates } from '../tls.js';
import type { RunningService } from './types.js';

/** Newest 8.19.x integ-test-zip on Maven Central (9.x is not published as an integ-test-zip there). */
export const ELASTICSEARCH_VERSION = '8.19.21';
export const DEFAULT_ELASTICSEARCH_URL = 'http://127.0.0.1:19200';
const MAVEN_CENTRAL = process.env.CDNKIT_MAVEN_CENTRAL ?? 'https://repo1.maven.org/maven2';

export interface ElasticsearchOptions {
  /** HTTP port on 127.0.0.1; overrides CDNKIT_ES_URL. */
  port?: number;
  /** Security on, HTTPS and a superuser (see above); needs `port`, as the node must be our own. */
  security?: boolean;
}

/** How to reach a node started with security on. */
export interface ElasticsearchAccess {
  /** PEM of the CA that signed the node's HTTP certificate. */
  caFile: string;
  /** A superuser of the file realm. */
  username: string;
  password: string;
}

export interface RunningElasticsearch extends RunningService {
  readonly name: 'elasticsearch';
  /** Version reported by the node (also for a reused node). */
  readonly version: string;
  /** Console log of the node (stdout+stderr), or undefined for a reused node. */
  readonly logFile: string | undefined;
  /** PID of the Elasticsearch launcher process (its child is the server JVM); undefined when reused. */
  readonly pid: number | undefined;
  /** Set when started with security on. */
  readonly security: ElasticsearchAccess | undefined;
}

const handles = new Map<string, Promise<RunningElasticsearch>>();

/** Starts (or reuses) an Elasticsearch node; idempotent per address within a process. */
export function startElasticsearch(options: ElasticsearchOptions = {}): Promise<RunningElasticsearch> {
  if (options.security && options.port === undefined) throw new HarnessError('elasticsearch: start', new Error('a node with security on needs its own port'));
  const scheme = options.security ? 'https' : 'http';
  const url = (options.port !== undefined ? `${scheme}://127.0.0.1:${options.port}` : process.env.CDNKIT_ES_URL ?? DEFAULT_ELASTICSEARCH_URL).replace(/\/+$/, '');
  let handle = handles.get(url);
  if (!handle) {
    handle = obtain(url, () => handles.delete(url), options.security ?? false);
    handles.set(url, handle);
    handle.catch(() => handles.delete(url));
  }
  return handle;
}

async function obtain(url: string, forget: () => void, security: boolean): Promise<RunningElasticsearch> {
  const existing = security ? undefined : await nodeVersion(url);
  if (existing) return reused(url, existing);
  const { hostname, port: portText, protocol } = new URL(url);
  const port = Number(portText || 80);
  if (protocol !== (security ? 'https:' : 'http:') || !isLocal(hostname)) {
    throw new HarnessError(`elasticsearch: reach ${url}`, new Error(`no Elasticsearch answers at ${url} and it is not a local http address we could start one on`));
  }
  return withLock(
    `elasticsearch-${port}`,
    async () => {
      // Another process may have started it while we waited for the lock.
      const again = security ? undefined : await nodeVersion(url);
      if (again) return reused(url, again);
      if (await portInUse(port)) {
        throw new HarnessError(`elasticsearch: start on port ${port}`, new Error(`port ${port} is in use by something that is not Elasticsearch`));
      }
      const home = await installElasticsearch();
      return launch(home, url, port, forget, security);
    },
    { maxWaitMs: 10 * 60_000 },
  );
}

function reused(url: string, version: string): RunningElasticsearch {
  progress(`elasticsearch: reusing the node already running at ${url} (${version})`);
  return { name: 'elasticsearch', url, version, started: false, logFile: undefined, pid: undefined, security: undefined, stop: async () => {} };
}

// ---------------------------------------------------------------------------------------------------------
// Install: the zip from Maven Central, checked against its .sha1, unpacked once into the cache.

/** Downloads and unpacks the distribution into the cache (once); returns ES_HOME. */
export async function installElasticsearch(): Promise<string> {
  const root = cacheDir(`elasticsearch-${ELASTICSEARCH_VERSION}`);
  const home = join(root, 'home');
  if (existsSync(join(home, '.complete'))) return home;
  const base = `${MAVEN_CENTRAL}/org/elasticsearch/distribution/integ-test-zip/elasticsearch/${ELASTICSEARCH_VERSION}/elasticsearch-${ELASTICSEARCH_VERSION}.zip`;
  const work = mkdtempSync(join(root, 'download-'));
  try {
    const zip = join(work, 'elasticsearch.zip');
    await step(`elasticsearch ${ELASTICSEARCH_VERSION}: download integ-test-zip from Maven Central (first run only)`, async () => {
      const expected = (await (await fetchOk(`${base}.sha1`)).text()).trim().split(/\s+/)[0]!.toLowerCase();
      const actual = await download(base, zip);
      if (actual !== expected) throw new Error(`sha1 of ${base} is ${actual}, Maven Central says ${expected}`);
    });
    await step(`elasticsearch ${ELASTICSEARCH_VERSION}: unpack`, async () => {
      const out = join(work, 'unpacked');
      mkdirSync(out);
      unzip(zip, out);
      const top = join(out, `elasticsearch-${ELASTICSEARCH_VERSION}`);
      if (!existsSync(join(top, 'bin', 'elasticsearch'))) throw new Error(`unexpected zip layout: no elasticsearch-${ELASTICSEARCH_VERSION}/bin/elasticsearch`);
      writeFileSync(join(top, '.complete'), `${base}\n`);
      rmSync(home, { recursive: true, force: true }); // only ever a leftover without .complete
      try {
        renameSync(top, home);
      } catch (error) {
        if (!existsSync(join(home, '.complete'))) throw error; // else: a concurrent run finished first
      }
    });
    return home;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function fetchOk(url: string): Promise<Response> {
  const response = await fetch(url);
  if (!response.ok || !response.body) throw new Error(`GET ${url}: HTTP ${response.status}`);
  return response;
}

/** Streams url to file, printing progress every 5 s; returns the sha1. */
async function download(url: string, file: string): Promise<string> {
  const response = await fetchOk(url);
  const total = Number(response.headers.get('content-length') ?? 0);
  const hash = createHash('sha1');
  const out = createWriteStream(file);
  let received = 0;
  const started = Date.now();
  const timer = setInterval(() => {
    const mib = (n: number) => (n / 1048576).toFixed(0);
    progress(`elasticsearch: downloaded ${mib(received)}${total ? ` of ${mib(total)}` : ''} MiB in ${Math.round((Date.now() - started) / 1000)} s`);
  }, 5_000);
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      received += chunk.length;
      if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
    }
    await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
  } finally {
    clearInterval(timer);
    out.destroy();
  }
  if (total && received !== total) throw new Error(`download of ${url} stopped at ${received} of ${total} bytes`);
  return hash.digest('hex');
}

function unzip(zip: string, into: string): void {
  const attempts: [string, string[]][] = [
    ['unzip', ['-q', zip, '-d', into]],
    ['python3', ['-m', 'zipfile', '-e', zip, into]], // no exec bits, but we start the scripts through bash
  ];
  const failures: string[] = [];
  for (const [command, args] of attempts) {
    const result = spawnSync(command, args, { encoding: 'utf8' });
    if (result.status === 0) return;
    failures.push(`${command}: ${result.error?.message ?? result.stderr.trim()}`);
  }
  throw new Error(`could not unpack ${zip} (${failures.join('; ')})`);
}

// ---------------------------------------------------------------------------------------------------------
// Run.

async function launch(home: string, url: string, port: number, forget: () => void, secured: boolean): Promise<RunningElasticsearch> {
  const javaHome = findJavaHome();
  sweepStale('cdnkit-es-');
  const dir = mkdtempSync(join(tmpdir(), 'cdnkit-es-'));
  const logFile = join(dir, 'console.log');
  const conf = join(dir, 'config');
  const owned = [dir, join(dir, 'data'), join(dir, 'logs'), join(dir, 'tmp'), conf];
  for (const d of owned.slice(1)) mkdirSync(d);
  for (const f of readdirSync(join(home, 'config'))) {
    if (f === 'elasticsearch.keystore') continue;
    const from = join(home, 'config', f);
    if (statSync(from).isDirectory()) mirror(from, join(conf, f), 'copy');
    else copyFileSync(from, join(conf, f));
  }
  // Before the config folder is handed to the unprivileged user: the TLS files must sit inside it.
  const security = secured ? await secureNode(home, conf, javaHome) : undefined;

  // Elasticsearch will not run as root: run it as an unprivileged user that owns only its temp dir.
  let user: { uid: number; gid: number } | undefined;
  let esHome = home;
  if (process.getuid?.() === 0) {
    user = await step('elasticsearch: run as an unprivileged user (the harness runs as root)', async () => {
      const u = ensureUser(process.env.CDNKIT_ES_USER ?? 'cdnkit-es');
      chownTree(conf, u);
      for (const d of owned) chownSync(d, u.uid, u.gid);
      if (!canRead(u, join(home, 'lib', `elasticsearch-${ELASTICSEARCH_VERSION}.jar`))) {
        esHome = join(dir, 'home');
        mirror(home, esHome, 'link');
      }
      if (!canRead(u, join(javaHome, 'bin', 'java'))) {
        throw new Error(`user ${u.uid} cannot run ${javaHome}/bin/java; set CDNKIT_ES_JAVA_HOME to a JDK 17+ readable by all`);
      }
      return u;
    });
  }

  const heap = process.env.CDNKIT_ES_HEAP ?? '-Xms512m -Xmx512m';
  const settings = {
    'cluster.name': 'cdnkit-test',
    'node.name': 'cdnkit-test',
    'discovery.type': 'single-node',
    'network.host': '127.0.0.1',
    'http.port': String(port),
    'path.data': join(dir, 'data'),
    'path.logs': join(dir, 'logs'),
    ...(security
      ? {
          'xpack.security.enabled': 'true',
          'xpack.security.http.ssl.enabled': 'true',
          'xpack.security.http.ssl.certificate': join(conf, 'tls', 'server.pem'),
          'xpack.security.http.ssl.key': join(conf, 'tls', 'server.key'),
          'xpack.security.http.ssl.certificate_authorities': security.caFile,
        }
      : { 'xpack.security.enabled': 'false' }),
    // Tests fill small disks; never let the watermark turn indices read-only under us.
    'cluster.routing.allocation.disk.threshold_enabled': 'false',
    'action.destructive_requires_name': 'false',
  };
  let child: ChildProcess | undefined;
  let stopped = false;
  const halt = async () => {
    if (child) {
      const c = child;
      child = undefined;
      await stopProcess(c, 'elasticsearch', 30_000);
    }
  };

  let version = ELASTICSEARCH_VERSION;
  try {
    await step(`elasticsearch ${ELASTICSEARCH_VERSION}: start node on ${url}`, async () => {
      const out = openSync(logFile, 'a');
      try {
        child = spawnChild('bash', [join(esHome, 'bin', 'elasticsearch'), ...Object.entries(settings).flatMap(([k, v]) => ['-E', `${k}=${v}`])], {
          cwd: dir,
          stdio: ['ignore', out, out],
          ...(user ?? {}),
          env: {
            PATH: process.env.PATH ?? '/usr/bin:/bin',
            LANG: 'C.UTF-8',
            HOME: dir,
            ES_JAVA_HOME: javaHome,
            ES_PATH_CONF: conf,
            ES_TMPDIR: join(dir, 'tmp'),
            // The launcher's own JVM too: it checks the node's JVM options from a final-flags-*
            // folder in java.io.tmpdir, and leaves it behind (with a gc.log) in /tmp otherwise.
            CLI_JAVA_OPTS: `-Djava.io.tmpdir=${join(dir, 'tmp')}`,
            ES_JAVA_OPTS: heap,
          },
        });
      } finally {
        closeSync(out);
      }
      writeFileSync(join(dir, 'owner.pids'), `${process.pid} ${child.pid ?? ''}\n`);
      const c = child;
      const exited = exitOf(c);
      const deadline = Date.now() + Number(process.env.CDNKIT_ES_START_TIMEOUT_MS ?? 240_000);
      for (;;) {
        if (c.exitCode !== null || c.signalCode !== null) {
          throw new Error(`Elasticsearch exited (${c.exitCode ?? c.signalCode}) while starting; last lines of ${logFile}:\n${tailOfFile(logFile)}`);
        }
        const v = await nodeVersion(url, true, security);
        if (v) {
          version = v;
          return;
        }
        if (Date.now() > deadline) {
          throw new Error(`no healthy node at ${url} within the start timeout; last lines of ${logFile}:\n${tailOfFile(logFile)}`);
        }
        await Promise.race([sleep(500), exited]);
      }
    });
  } catch (error) {
    await halt();
    throw error;
  }

  return {
    name: 'elasticsearch',
    url,
    version,
    started: true,
    logFile,
    security,
    get pid() {
      return child?.pid;
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      forget(); // a later startElasticsearch() for this address starts afresh
      await step('elasticsearch: stop node', halt);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The node's version when an Elasticsearch node answers at url with cluster health yellow or green,
 * else undefined. (`GET /` is not available in the integ-test-zip, so health it is.)
 */
async function nodeVersion(url: string, waitABit = false, access?: ElasticsearchAccess): Promise<string | undefined> {
  const { hostname, port } = new URL(url);
  if (!(await portInUse(Number(port || 80), hostname))) return undefined;
  try {
    const health = await getJson(`${url}/_cluster/health?wait_for_status=yellow&timeout=${waitABit ? '2s' : '1s'}`, access);
    if (health.product !== 'Elasticsearch' || health.status !== 200) return undefined;
    const status = (health.body as { status?: string }).status;
    if (status !== 'yellow' && status !== 'green') return undefined;
    const nodes = (await getJson(`${url}/_nodes/_local?filter_path=nodes.*.version`, access)).body as { nodes?: Record<string, { version?: string }> };
    return Object.values(nodes.nodes ?? {})[0]?.version ?? 'unknown';
  } catch {
    return undefined;
  }
}

/** GET with the node's CA and basic auth when it runs with security on (fetch cannot take a CA). */
function getJson(url: string, access?: ElasticsearchAccess): Promise<{ status: number; product: string | undefined; body: unknown }> {
  const secure = url.startsWith('https:');
  return new Promise((resolve, reject) => {
    const request = (secure ? httpsRequest : httpRequest)(
      url,
      {
        timeout: 5_000,
        ...(access
          ? { ca: readFileSync(access.caFile), headers: { authorization: `Basic ${Buffer.from(`${access.username}:${access.password}`).toString('base64')}` } }
          : {}),
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => {
          try {
            resolve({ status: response.statusCode ?? 0, product: response.headers['x-elastic-product'] as string | undefined, body: JSON.parse(text) });
          } catch (error) {
            reject(error as Error);
          }
        });
      },
    );
    request.on('timeout', () => request.destroy(new Error(`GET ${url} timed out`)));
    request.on('error', reject);
    request.end();
  });
}

/** HTTPS material inside the node's config folder and a superuser in its file realm. */
async function secureNode(home: string, conf: string, javaHome: string): Promise<ElasticsearchAccess> {
  return step('elasticsearch: security on (throwaway CA, HTTPS, a file-realm superuser)', async () => {
    const tls = await makeCertificates(join(conf, 'tls'));
    const access: ElasticsearchAccess = { caFile: tls.caFile, username: 'cdnkit', password: randomBytes(12).toString('hex') };
    const users = spawnSync('bash', [join(home, 'bin', 'elasticsearch-users'), 'useradd', access.username, '-p', access.password, '-r', 'superuser'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ES_JAVA_HOME: javaHome, ES_PATH_CONF: conf, LANG: 'C.UTF-8' },
      timeout: 120_000,
    });
    if (users.status !== 0) throw new Error(`elasticsearch-users useradd exited with ${users.status ?? users.error?.message}: ${users.stdout}${users.stderr}`);
    return access;
  });
}

function findJavaHome(): string {
  const explicit = process.env.CDNKIT_ES_JAVA_HOME ?? process.env.CDNKIT_JAVA_HOME ?? process.env.JAVA_HOME;
  let home = explicit;
  if (!home) {
    const which = spawnSync('bash', ['-c', 'command -v java'], { encoding: 'utf8' });
    const java = which.stdout.trim();
    if (which.status !== 0 || !java) throw new HarnessError('elasticsearch: find java', new Error('no `java` on PATH; Elasticsearch 8 needs Java 17+ (set CDNKIT_ES_JAVA_HOME)'));
    home = dirname(dirname(realpathSync(java)));
  }
  const result = spawnSync(join(home, 'bin', 'java'), ['-version'], { encoding: 'utf8' });
  const major = Number(/version "(\d+)/.exec(`${result.stderr ?? ''}`)?.[1] ?? 0);
  if (major < 17) {
    throw new HarnessError('elasticsearch: find java', new Error(`${home}/bin/java is not Java 17+ (found ${major || 'nothing'}); set CDNKIT_ES_JAVA_HOME`));
  }
  return home;
}

function ensureUser(name: string): { uid: number; gid: number } {
  const id = (flag: string) => spawnSync('id', [flag, name], { encoding: 'utf8' });
  if (id('-u').status !== 0) {
    progress(`elasticsearch: creating system user ${name}`);
    const result = spawnSync(
      'useradd',
      ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', name],
      { encoding: 'utf8' },
    );
    if (result.status !== 0 && id('-u').status !== 0) {
      throw new Error(`useradd ${name} failed: ${result.error?.message ?? result.stderr.trim()}`);
    }
  }
  return { uid: Number(id('-u').stdout.trim()), gid: Number(id('-g').stdout.trim()) };
}

function canRead(user: { uid: number; gid: number }, file: string): boolean {
  return spawnSync('test', ['-r', file], { ...user, stdio: 'ignore' }).status === 0;
}

function chownTree(path: string, user: { uid: number; gid: number }): void {
  chownSync(path, user.uid, user.gid);
  if (statSync(path).isDirectory()) for (const f of readdirSync(path)) chownTree(join(path, f), user);
}

/** Recreates a directory tree; files are hard links (falling back to copies across file systems) or copies. */
function mirror(from: string, to: string, how: 'link' | 'copy'): void {
  mkdirSync(to, { recursive: true, mode: 0o755 });
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const a = join(from, entry.name);
    const b = join(to, entry.name);
    if (entry.isDirectory()) mirror(a, b, how);
    else if (how === 'copy') copyFileSync(a, b);
    else {
      try {
        linkSync(a, b);
      } catch {
        copyFileSync(a, b);
      }
    }
  }
}

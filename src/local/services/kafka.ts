// A real Apache Kafka 4.x broker for the tests: one KRaft node acting as broker and controller, run from
// the jars on Maven Central (`java -cp <jars> kafka.Kafka server.properties`) — no Docker, no tarball.
//
// - Jars: org.apache.kafka:kafka_2.13 plus its runtime dependencies and a log4j2 binding, resolved once by
//   `mvn dependency:copy-dependencies` from a throwaway pom and cached under cacheDir('kafka-<version>').
// - Each start formats a fresh log dir in a temp folder (random cluster id), starts the JVM, waits until a
//   kafkajs admin `describeCluster` succeeds and creates the requested topics.
// - A broker that already answers at the address (CDNKIT_KAFKA_BROKERS, default 127.0.0.1:19092) is
//   reused and never stopped by us.
// - Beside the PLAINTEXT listener every test uses (User:ANONYMOUS, a super user), a broker we start has
//   a SASL_PLAINTEXT listener and a SASL_SSL one (a throwaway CA made by openssl at start; client
//   certificate required), both with SCRAM-SHA-256/512 and PLAIN, and the StandardAuthorizer: only
//   ANONYMOUS and the SCRAM user `admin` are super users, everyone else needs ACLs. Their addresses and
//   the admin password are in `security`, and in a file under the cache so a process that reuses the
//   broker finds them too.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { cacheDir } from '../cache.js';
import {
  exitOf,
  freePort,
  isLocal,
  mustRun,
  portInUse,
  sleep,
  spawnChild,
  stopProcess,
  sweepStale,
  tailOf,
  tailOfFile,
  withLock,
} from '../process.js';
import { HarnessError, progress, step } from '../progress.js';
import { makeCertificates } from '../tls.js';
import type { RunningService } from './types.js';

const { Kafka, logLevel } = kafkajs;

/**
 * Newest Kafka 4.x whose artifacts are all on Maven Central. (4.4.0's kafka_2.13 pom is published but
 * depends on org.apache.kafka:kafka-tools-api:4.4.0, which is not — so 4.4.0 does not resolve.)
 */
export const KAFKA_VERSION = '4.3.1';
/** log4j2 binding for Kafka's slf4j 1.7 API, so the broker logs to our log file. */
const LOG4J_VERSION = '2.24.3';
const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1';
export const DEFAULT_KAFKA_BROKERS = '127.0.0.1:19092';

export interface KafkaOptions {
  /** Broker port on 127.0.0.1; overrides CDNKIT_KAFKA_BROKERS. */
  port?: number;
  /** Topics to create (or grow) with these partition counts, replication factor 1. */
  partitions?: Record<string, number>;
}

/** The authenticated listeners of a broker we started, and who may use them. */
export interface KafkaSecurityListeners {
  /** SASL_PLAINTEXT: SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN. */
  saslBrokers: string[];
  /** SASL_SSL: TLS (server certificate for 127.0.0.1 and localhost, client certificate required), then SASL as above. */
  sslBrokers: string[];
  /** PEM of the throwaway CA that signed the broker's and the client's certificates. */
  caFile: string;
  /** A client certificate (and its unencrypted key) the SASL_SSL listener accepts. */
  clientCertFile: string;
  clientKeyFile: string;
  /** A super user, known to every SASL mechanism above. */
  admin: { username: string; password: string };
}

export interface RunningKafka extends RunningService {
  readonly name: 'kafka';
  /** Bootstrap brokers, e.g. ['127.0.0.1:19092']; `url` is the same list joined with commas. */
  readonly brokers: string[];
  /** Kafka version we run, or undefined for a reused broker. */
  readonly version: string | undefined;
  /** Broker log (stdout+stderr of the JVM), or undefined for a reused broker. */
  readonly logFile: string | undefined;
  /** PID of the broker JVM while it runs (undefined for a reused broker). */
  readonly pid: number | undefined;
  /** The SASL listeners; undefined for a reused broker started without them. */
  readonly security: KafkaSecurityListeners | undefined;
  /** Creates missing topics and adds partitions to existing ones that have fewer. */
  ensureTopics(partitions: Record<string, number>): Promise<void>;
  /** Stops the broker and starts it again on the same ports and data dir. Only for a broker we started. */
  restart(): Promise<void>;
}

const handles = new Map<string, Promise<RunningKafka>>();

/** Starts (or reuses) a Kafka broker; idempotent per address within a process. */
export function startKafka(options: KafkaOptions = {}): Promise<RunningKafka> {
  const brokers =
    options.port !== undefined
      ? [`127.0.0.1:${options.port}`]
      : (process.env.CDNKIT_KAFKA_BROKERS ?? DEFAULT_KAFKA_BROKERS).split(',').map((b) => b.trim()).filter(Boolean);
  const key = brokers.join(',');
  let handle = handles.get(key);
  if (!handle) {
    handle = obtain(brokers, () => handles.delete(key));
    handles.set(key, handle);
    handle.catch(() => handles.delete(key));
  }
  const partitions = options.partitions ?? {};
  return handle.then(async (kafka) => {
    if (Object.keys(partitions).length > 0) await kafka.ensureTopics(partitions);
    return kafka;
  });
}

async function obtain(brokers: string[], forget: () => void): Promise<RunningKafka> {
  const url = brokers.join(',');
  if (await kafkaAnswers(brokers)) return reused(brokers);
  const [host, portText] = splitHostPort(brokers[0]!);
  if (brokers.length !== 1 || !isLocal(host)) {
    throw new HarnessError(`kafka: reach ${url}`, new Error(`no Kafka broker answers at ${url} and it is not a single local address we could start one on`));
  }
  const port = Number(portText);
  return withLock(
    `kafka-${port}`,
    async () => {
      // Another process may have started it while we waited for the lock.
      if (await kafkaAnswers(brokers)) return reused(brokers);
      if (await portInUse(port)) {
        throw new HarnessError(`kafka: start on port ${port}`, new Error(`port ${port} is in use by something that is not a Kafka broker`));
      }
      const libs = await installKafka();
      return launch(libs, port, forget);
    },
    { maxWaitMs: 10 * 60_000 },
  );
}

async function reused(brokers: string[]): Promise<RunningKafka> {
  const security = await securityOfRunning(brokers);
  progress(`kafka: reusing the broker already running at ${brokers.join(',')}${security ? `, SASL at ${security.saslBrokers}, SASL_SSL at ${security.sslBrokers}` : ' (without SASL listeners)'}`);
  return {
    name: 'kafka',
    url: brokers.join(','),
    brokers,
    started: false,
    version: undefined,
    logFile: undefined,
    pid: undefined,
    security,
    ensureTopics: (partitions) => step(`kafka: ensure topics ${Object.keys(partitions).join(', ')}`, () => ensureTopicsAt(brokers, partitions)),
    restart: async () => {
      throw new HarnessError('kafka: restart', new Error('this broker was already running and is not ours to restart'));
    },
    stop: async () => {},
  };
}

// ---------------------------------------------------------------------------------------------------------
// Install: jars from Maven Central.

/** Resolves Kafka's jars into the cache (once) and returns the folder to put on the classpath. */
export async function installKafka(): Promise<string> {
  const root = cacheDir(`kafka-${KAFKA_VERSION}`);
  const libs = join(root, 'libs');
  if (existsSync(join(libs, '.complete'))) return libs;
  return step(`kafka ${KAFKA_VERSION}: resolve jars from Maven Central (mvn, first run only)`, async () => {
    await mustRun('mvn', ['-v']).catch((error: Error) => {
      throw new Error(`Maven (mvn) is needed once to resolve the Kafka jars from Maven Central, but it is not usable here (${error.message})`);
    });
    const work = mkdtempSync(join(root, 'resolve-'));
    try {
      const pom = join(work, 'pom.xml');
      writeFileSync(pom, kafkaPom());
      const out = join(work, 'libs');
      // mvn -B prints one line per download; count them for the heartbeat instead of streaming them all.
      let downloaded = 0;
      let last = '';
      await mustRun(
        'mvn',
        [
          '-B',
          '-f',
          pom,
          `-Dmaven.repo.local=${cacheDir('maven-repo')}`,
          `-DoutputDirectory=${out}`,
          '-DincludeScope=runtime',
          `${DEPENDENCY_PLUGIN}:copy-dependencies`,
        ],
        {
          label: 'kafka jars (mvn)',
          heartbeatMs: 10_000,
          onLine: (line) => {
            const m = /Downloaded from \S+: (\S+)/.exec(line);
            if (m) {
              downloaded++;
              last = m[1]!.split('/').pop() ?? '';
            }
          },
          heartbeatNote: () => `, ${downloaded} files downloaded${last ? ` (last: ${last})` : ''}`,
        },
      );
      const jars = readdirSync(out).filter((f) => f.endsWith('.jar'));
      if (!jars.includes(`kafka_2.13-${KAFKA_VERSION}.jar`)) throw new Error(`mvn finished but kafka_2.13-${KAFKA_VERSION}.jar is not in ${out}`);
      writeFileSync(join(out, '.complete'), jars.sort().join('\n') + '\n');
      rmSync(libs, { recursive: true, force: true }); // only ever a leftover without .complete
      try {
        renameSync(out, libs);
      } catch (error) {
        if (!existsSync(join(libs, '.complete'))) throw error; // else: a concurrent run finished first
      }
      progress(`kafka ${KAFKA_VERSION}: ${jars.length} jars cached in ${libs}`);
      return libs;
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
}

function kafkaPom(): string {
  const dep = (g: string, a: string, v: string) =>
    `    <dependency><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version></dependency>`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by the cdnkit test harness: only used to resolve Kafka's runtime classpath. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>cdnkit.harness</groupId>
  <artifactId>kafka-classpath</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
${dep('org.apache.kafka', 'kafka_2.13', KAFKA_VERSION)}
${dep('org.apache.logging.log4j', 'log4j-core', LOG4J_VERSION)}
${dep('org.apache.logging.log4j', 'log4j-slf4j-impl', LOG4J_VERSION)}
  </dependencies>
</project>
`;
}

// ---------------------------------------------------------------------------------------------------------
// Run: KRaft combined node.

async function launch(libs: string, port: number, forget: () => void): Promise<RunningKafka> {
  const java = javaCommand();
  const classpath = join(libs, '*');
  sweepStale('cdnkit-kafka-');
  const dir = mkdtempSync(join(tmpdir(), 'cdnkit-kafka-'));
  const dataDir = join(dir, 'data');
  const propsFile = join(dir, 'server.properties');
  const log4jFile = join(dir, 'log4j2.properties');
  const logFile = join(dir, 'server.log');
  const brokers = [`127.0.0.1:${port}`];
  const controllerPort = await freePort();
  mkdirSync(dataDir);
  const tls = await step('kafka: make a throwaway CA and certificates (openssl)', async () => makeCertificates(join(dir, 'tls')));
  // Kafka's PEM keystore: the (PKCS#8, unencrypted) key and the certificate in one file.
  const keystoreFile = join(dir, 'tls', 'server-keystore.pem');
  writeFileSync(keystoreFile, readFileSync(tls.serverKeyFile, 'utf8') + readFileSync(tls.serverCertFile, 'utf8'));
  const security: KafkaSecurityListeners = {
    saslBrokers: [`127.0.0.1:${await freePort()}`],
    sslBrokers: [`127.0.0.1:${await freePort()}`],
    caFile: tls.caFile,
    clientCertFile: tls.clientCertFile,
    clientKeyFile: tls.clientKeyFile,
    admin: { username: 'admin', password: randomBytes(12).toString('hex') },
  };
  writeFileSync(propsFile, serverProperties({ port, controllerPort, dataDir, security, keystoreFile }));
  writeFileSync(log4jFile, LOG4J2_PROPERTIES);
  const jvmFlags = [
    ...(process.env.CDNKIT_KAFKA_HEAP ?? '-Xms256m -Xmx512m').split(/\s+/).filter(Boolean),
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${log4jFile}`,
    `-Dkafka.logs.dir=${dir}`,
  ];

  let child: ChildProcess | undefined;
  let stopped = false;

  await step('kafka: format KRaft storage', async () => {
    const clusterId = randomBytes(16).toString('base64url'); // a Kafka Uuid: 16 bytes, URL-safe base64
    const result = spawnSync(
      java,
      [
        ...jvmFlags.filter((f) => !f.startsWith('-Xm')),
        '-Xmx256m',
        '-cp',
        classpath,
        'kafka.tools.StorageTool',
        'format',
        '-t',
        clusterId,
        '-c',
        propsFile,
        // The admin's SCRAM credentials go into the first metadata records: no Admin API needed.
        ...SCRAM_MECHANISMS.flatMap((m) => ['--add-scram', `${m}=[name=${security.admin.username},password=${security.admin.password}]`]),
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    if (result.status !== 0) {
      const output = `${result.stdout ?? ''}\n${result.stderr ?? ''}`;
      throw new Error(`kafka.tools.StorageTool format exited with ${result.status ?? result.signal ?? result.error}:\n${tailOf(output, 15)}`);
    }
  });

  const boot = () =>
    step(`kafka ${KAFKA_VERSION}: start broker on 127.0.0.1:${port}`, async () => {
      const out = openSync(logFile, 'a');
      try {
        child = spawnChild(java, [...jvmFlags, '-cp', classpath, 'kafka.Kafka', propsFile], { cwd: dir, stdio: ['ignore', out, out] });
      } finally {
        closeSync(out);
      }
      writeFileSync(join(dir, 'owner.pids'), `${process.pid} ${child.pid ?? ''}\n`);
      const exited = exitOf(child);
      const deadline = Date.now() + Number(process.env.CDNKIT_KAFKA_START_TIMEOUT_MS ?? 180_000);
      for (;;) {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`the broker exited (${child.exitCode ?? child.signalCode}) while starting; last lines of ${logFile}:\n${tailOfFile(logFile)}`);
        }
        if (await kafkaAnswers(brokers)) return;
        if (Date.now() > deadline) {
          throw new Error(`no answer from ${brokers[0]} within the start timeout; last lines of ${logFile}:\n${tailOfFile(logFile)}`);
        }
        await Promise.race([sleep(500), exited]);
      }
    });

  const halt = async () => {
    if (child) {
      const c = child;
      child = undefined;
      await stopProcess(c, 'kafka', 30_000);
    }
  };

  try {
    await boot();
  } catch (error) {
    await halt();
    throw error;
  }
  const listenersFile = listenersFileOf(port);
  writeFileSync(listenersFile, JSON.stringify({ security }, null, 2), { mode: 0o600 });

  const kafka: RunningKafka = {
    name: 'kafka',
    url: brokers.join(','),
    brokers,
    started: true,
    version: KAFKA_VERSION,
    logFile,
    security,
    get pid() {
      return child?.pid;
    },
    ensureTopics: (partitions) => step(`kafka: ensure topics ${Object.keys(partitions).join(', ')}`, () => ensureTopicsAt(brokers, partitions)),
    restart: async () => {
      if (stopped) throw new HarnessError('kafka: restart', new Error('the broker was stopped'));
      await step('kafka: stop broker for restart', halt);
      await boot();
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      forget(); // a later startKafka() for this address starts afresh
      rmSync(listenersFile, { force: true });
      await step('kafka: stop broker', halt);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return kafka;
}

const SCRAM_MECHANISMS = ['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;

interface ServerSettings {
  port: number;
  controllerPort: number;
  dataDir: string;
  security: KafkaSecurityListeners;
  /** PEM with the broker's private key and certificate (Kafka reads PEM keystores since 2.7). */
  keystoreFile: string;
}

function serverProperties({ port, controllerPort, dataDir, security, keystoreFile }: ServerSettings): string {
  const { saslBrokers, sslBrokers, caFile, admin } = security;
  // Each SASL listener needs a login module per mechanism; PLAIN's lists its users and passwords.
  const jaas = ['sasl_plaintext', 'sasl_ssl'].flatMap((listener) => [
    ...SCRAM_MECHANISMS.map((m) => `listener.name.${listener}.${m.toLowerCase()}.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;`),
    `listener.name.${listener}.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_${admin.username}="${admin.password}";`,
  ]);
  return `# Generated by the cdnkit test harness: one KRaft node, broker and controller in one JVM.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${controllerPort}
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:${port},SASL_PLAINTEXT://${saslBrokers[0]},SASL_SSL://${sslBrokers[0]},CONTROLLER://127.0.0.1:${controllerPort}
advertised.listeners=PLAINTEXT://127.0.0.1:${port},SASL_PLAINTEXT://${saslBrokers[0]},SASL_SSL://${sslBrokers[0]}
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT
sasl.enabled.mechanisms=${SCRAM_MECHANISMS.join(',')},PLAIN
${jaas.join('\n')}
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location=${keystoreFile}
listener.name.sasl_ssl.ssl.truststore.type=PEM
listener.name.sasl_ssl.ssl.truststore.location=${caFile}
listener.name.sasl_ssl.ssl.client.auth=required
log.dirs=${dataDir}
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
# ACLs are enforced. Plaintext clients (User:ANONYMOUS) and the SCRAM user ${admin.username} are super
# users, so every test on the PLAINTEXT listener works as without an authorizer; any other user gets
# what ACLs grant and nothing else.
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:ANONYMOUS;User:${admin.username}
allow.everyone.if.no.acl.found=false
`;
}

const LOG4J2_PROPERTIES = `status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.state.name = state.change.logger
logger.state.level = WARN
`;

async function ensureTopicsAt(brokers: string[], partitions: Record<string, number>): Promise<void> {
  const admin = new Kafka({ clientId: 'cdnkit-harness', brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = Object.entries(partitions).filter(([topic]) => !existing.has(topic));
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map(([topic, numPartitions]) => ({ topic, numPartitions, replicationFactor: 1 })),
      });
    }
    const present = Object.keys(partitions).filter((topic) => existing.has(topic));
    if (present.length > 0) {
      const { topics } = await admin.fetchTopicMetadata({ topics: present });
      const grow = topics
        .filter((t) => t.partitions.length < (partitions[t.name] ?? 0))
        .map((t) => ({ topic: t.name, count: partitions[t.name]! }));
      if (grow.length > 0) await admin.createPartitions({ topicPartitions: grow, validateOnly: false });
    }
  } finally {
    await admin.disconnect();
  }
}

/** True when a Kafka broker answers a metadata/describeCluster request at the address. */
async function kafkaAnswers(brokers: string[]): Promise<boolean> {
  const [host, port] = splitHostPort(brokers[0]!);
  if (!(await portInUse(Number(port), host))) return false;
  const admin = new Kafka({
    clientId: 'cdnkit-harness-probe',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1_000,
    requestTimeout: 3_000,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------------------
// The listeners of a running broker.

/**
 * Creates or updates a SCRAM user through the brokers' PLAINTEXT listener. kafkajs has no API for
 * SCRAM credentials, so Kafka's own ConfigCommand does it (a JVM, a few seconds; one mechanism per
 * request). The user is no super user: it may do what ACLs grant, nothing else.
 */
export async function addScramUser(
  brokers: string[],
  username: string,
  password: string,
  mechanism: (typeof SCRAM_MECHANISMS)[number] = 'SCRAM-SHA-512',
): Promise<void> {
  const libs = await installKafka();
  const config = `${mechanism}=[password=${password}]`;
  await step(`kafka: add ${mechanism} user ${username}`, () =>
    mustRun(javaCommand(), ['-Xmx128m', '-cp', join(libs, '*'), 'kafka.admin.ConfigCommand', '--bootstrap-server', brokers.join(','), '--alter', '--add-config', config, '--entity-type', 'users', '--entity-name', username]),
  );
}

function listenersFileOf(port: number): string {
  return join(cacheDir('kafka-listeners'), `${port}.json`);
}

/** The SASL listeners a broker we started elsewhere wrote down, if that process and listener are alive. */
async function securityOfRunning(brokers: string[]): Promise<KafkaSecurityListeners | undefined> {
  const [host, port] = splitHostPort(brokers[0]!);
  if (brokers.length !== 1 || !isLocal(host)) return undefined;
  const file = listenersFileOf(Number(port));
  if (!existsSync(file)) return undefined;
  const { security } = JSON.parse(readFileSync(file, 'utf8')) as { security: KafkaSecurityListeners };
  const [saslHost, saslPort] = splitHostPort(security.saslBrokers[0]!);
  return (await portInUse(Number(saslPort), saslHost)) && existsSync(security.caFile) ? security : undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Small helpers.

function javaCommand(): string {
  const home = process.env.CDNKIT_JAVA_HOME ?? process.env.JAVA_HOME;
  const java = home ? join(home, 'bin', 'java') : 'java';
  const result = spawnSync(java, ['-version'], { encoding: 'utf8' });
  const match = /version "(\d+)/.exec(`${result.stderr ?? ''}${result.stdout ?? ''}`);
  if (result.status !== 0 || !match) {
    throw new HarnessError('kafka: find java', new Error(`${java} -version failed; Kafka ${KAFKA_VERSION} needs Java 17+ (set CDNKIT_JAVA_HOME)`));
  }
  if (Number(match[1]) < 17) {
    throw new HarnessError('kafka: find java', new Error(`${java} is Java ${match[1]}; Kafka ${KAFKA_VERSION} needs Java 17+ (set CDNKIT_JAVA_HOME)`));
  }
  return java;
}

function splitHostPort(address: string): [string, string] {
  const i = address.lastIndexOf(':');
  return [address.slice(0, i), address.slice(i + 1)];
}

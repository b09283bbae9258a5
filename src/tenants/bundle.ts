// The onboarding bundle: one tar.gz per tenant holding everything a customer needs to read their
// lines: broker addresses, credentials, and consumers already configured for their topics. The
// password is written here and nowhere else; the archive and the files holding it are mode 0600.
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { basename, join, resolve } from 'node:path';
import { spawnChild } from '../local/process.js';
import type { KitConfig, Tenant, TenantsConfig } from '../config/schema.js';
import { tenantNames } from './names.js';
import { SCRAM_MECHANISM } from './config-command.js';

export interface BundleFile {
  path: string;
  content: string;
  /** Holds the password: mode 0600. */
  secret?: boolean;
}

export interface BundleInput {
  config: KitConfig;
  tenants: TenantsConfig;
  tenant: Tenant;
  password: string;
}

const CA_FILE = 'ca.pem';

/** The Node example pins the kafkajs cdnkit itself runs with (kafkajs has no dependencies, so the pin is the whole install). */
const KAFKAJS_VERSION = (createRequire(import.meta.url)('kafkajs/package.json') as { version: string }).version;

/** The bundle's files, in memory (the CA file, if any, is copied when writing). */
export function bundleFiles({ config, tenants, tenant, password }: BundleInput): BundleFile[] {
  const names = tenantNames(tenants, tenant);
  const brokers = tenants.brokers ?? config.kafka.brokers;
  const tls = tenants.caFile !== undefined;
  const protocol = tls ? 'SASL_SSL' : 'SASL_PLAINTEXT';
  const topics = Object.values(names.topics);
  const topicList = Object.entries(names.topics).map(([type, topic]) => `| \`${topic}\` | ${type === 'logs' ? 'error logs, one JSON object per line' : 'one InfluxDB line-protocol point per request'} |`);
  const group = (client: string) => `${names.groupPrefix}${client}`;
  const jaas = `org.apache.kafka.common.security.scram.ScramLoginModule required username="${names.user}" password="${password}";`;
  const first = topics[0]!;

  const librdkafka = [
    `bootstrap.servers=${brokers.join(',')}`,
    `security.protocol=${protocol}`,
    `sasl.mechanisms=${SCRAM_MECHANISM}`,
    `sasl.username=${names.user}`,
    `sasl.password=${password}`,
    ...(tls ? [`ssl.ca.location=${CA_FILE}`] : []),
  ];

  return [
    {
      path: 'README.md',
      content: `# Your CDN logs in Kafka: ${tenant.id}

Your lines arrive in real time in these Kafka topics, readable with the credentials in this bundle
(and only by them):

| topic | what |
| --- | --- |
${topicList.join('\n')}

- Brokers: \`${brokers.join(',')}\` (${protocol}${tls ? `; trust \`${CA_FILE}\`` : ''})
- User: \`${names.user}\`, SASL ${SCRAM_MECHANISM}; the password is in \`credentials.env\` and the client files.
- Consumer groups must start with \`${names.groupPrefix}\` (e.g. \`${group('dashboards')}\`); other groups are refused.
- You may read and describe your topics; producing and other topics are refused.
- Kafka keeps your lines for ${tenant.retentionHours} hours.

Keep this folder private: it holds your password. Ask us for a new bundle to rotate it.

## Ready-made consumers (run them from this folder)

| file | run |
| --- | --- |
| \`kcat.conf\` | \`kcat -F kcat.conf -C -t ${first} -o beginning\` (kcat 1.7 with librdkafka 2.6.1 or newer: older librdkafka sends SCRAM proofs Kafka 4 refuses) |
| \`client.properties\` | Kafka's Java clients and tools: \`kafka-console-consumer.sh --bootstrap-server ${brokers[0]} --consumer.config client.properties --topic ${first} --group ${group('console')} --from-beginning\` |
| \`consumer.mjs\` | Node.js 20+: \`npm install && node consumer.mjs\` (prints each line) |
| \`consumer.py\` | Python 3: \`pip install -r requirements.txt && python3 consumer.py\` (prints each line) |
| \`logstash.conf\` | Logstash: \`bin/logstash -f logstash.conf\` (kafka input, lines to stdout: replace the output with yours) |
| \`filebeat.yml\` | Filebeat 8 or newer: \`filebeat -c filebeat.yml -e\` (kafka input, to the console: replace the output with yours; 7.x's kafka input has no \`sasl.mechanism\` and falls back to PLAIN, which is refused) |
| \`credentials.env\` | the same settings as environment variables, for your own programs |
`,
    },
    { path: 'brokers.txt', content: `${brokers.join('\n')}\n` },
    {
      path: 'credentials.env',
      secret: true,
      content: [
        `KAFKA_BROKERS=${brokers.join(',')}`,
        `KAFKA_SECURITY_PROTOCOL=${protocol}`,
        `KAFKA_SASL_MECHANISM=${SCRAM_MECHANISM}`,
        `KAFKA_USERNAME=${names.user}`,
        `KAFKA_PASSWORD=${password}`,
        `KAFKA_TOPICS=${topics.join(',')}`,
        `KAFKA_GROUP_PREFIX=${names.groupPrefix}`,
        '',
      ].join('\n'),
    },
    { path: 'kcat.conf', secret: true, content: `# kcat -F kcat.conf (librdkafka properties)\n${librdkafka.join('\n')}\n` },
    {
      path: 'client.properties',
      secret: true,
      content: [
        '# Kafka Java clients: --consumer.config / --command-config client.properties',
        `bootstrap.servers=${brokers.join(',')}`,
        `security.protocol=${protocol}`,
        `sasl.mechanism=${SCRAM_MECHANISM}`,
        `sasl.jaas.config=${jaas}`,
        ...(tls ? ['ssl.truststore.type=PEM', `ssl.truststore.location=${CA_FILE}`] : []),
        `group.id=${group('java')}`,
        'auto.offset.reset=earliest',
        '',
      ].join('\n'),
    },
    {
      path: 'logstash.conf',
      secret: true,
      content: `input {
  kafka {
    bootstrap_servers => "${brokers.join(',')}"
    topics => [${topics.map((t) => `"${t}"`).join(', ')}]
    group_id => "${group('logstash')}"
    auto_offset_reset => "earliest"
    security_protocol => "${protocol}"
    sasl_mechanism => "${SCRAM_MECHANISM}"
    sasl_jaas_config => '${jaas}'
${tls ? `    ssl_truststore_type => "PEM"\n    ssl_truststore_location => "${CA_FILE}"\n` : ''}    codec => plain
    decorate_events => basic
  }
}

output {
  stdout { codec => line { format => "%{message}" } }
}
`,
    },
    {
      path: 'filebeat.yml',
      secret: true,
      content: `filebeat.inputs:
  - type: kafka
    hosts: [${brokers.map((b) => `"${b}"`).join(', ')}]
    topics: [${topics.map((t) => `"${t}"`).join(', ')}]
    group_id: "${group('filebeat')}"
    initial_offset: oldest
    username: "${names.user}"
    password: "${password}"
    sasl.mechanism: ${SCRAM_MECHANISM}
${tls ? `    ssl.certificate_authorities: ["${CA_FILE}"]\n` : ''}
output.console:
  codec.format:
    string: '%{[message]}'
`,
    },
    {
      path: 'package.json',
      content: `${JSON.stringify({ name: `cdnkit-consumer-${tenant.id}`, private: true, type: 'module', dependencies: { kafkajs: KAFKAJS_VERSION } }, null, 2)}\n`,
    },
    {
      path: 'consumer.mjs',
      secret: true,
      content: `// Prints every line of your topics. npm install && node consumer.mjs
${tls ? "import { readFileSync } from 'node:fs';\n" : ''}import { Kafka, logLevel } from 'kafkajs';

const kafka = new Kafka({
  clientId: ${JSON.stringify(group('node'))},
  brokers: ${JSON.stringify(brokers)},
  ${tls ? `ssl: { ca: [readFileSync(new URL(${JSON.stringify(`./${CA_FILE}`)}, import.meta.url), 'utf8')] },` : 'ssl: false,'}
  sasl: { mechanism: 'scram-sha-512', username: ${JSON.stringify(names.user)}, password: ${JSON.stringify(password)} },
  logLevel: logLevel.WARN,
});
const consumer = kafka.consumer({ groupId: ${JSON.stringify(group('node'))} });
await consumer.connect();
await consumer.subscribe({ topics: ${JSON.stringify(topics)}, fromBeginning: true });
await consumer.run({
  eachMessage: async ({ message }) => {
    process.stdout.write(\`\${message.value?.toString() ?? ''}\\n\`);
  },
});
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => consumer.disconnect().then(() => process.exit(0)));
`,
    },
    { path: 'requirements.txt', content: 'confluent-kafka>=2.6.1\n' },
    {
      path: 'consumer.py',
      secret: true,
      content: `# Prints every line of your topics. pip install -r requirements.txt && python3 consumer.py
import signal
import sys

from confluent_kafka import Consumer

consumer = Consumer({
${librdkafka.map((line) => { const i = line.indexOf('='); return `    ${JSON.stringify(line.slice(0, i))}: ${JSON.stringify(line.slice(i + 1))},`; }).join('\n')}
    "group.id": ${JSON.stringify(group('python'))},
    "auto.offset.reset": "earliest",
})
consumer.subscribe(${JSON.stringify(topics)})
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
try:
    while True:
        message = consumer.poll(1.0)
        if message is None:
            continue
        if message.error():
            print(message.error(), file=sys.stderr)
            continue
        sys.stdout.write(message.value().decode("utf-8", "replace") + "\\n")
        sys.stdout.flush()
finally:
    consumer.close()
`,
    },
  ];
}

/** Writes `<dir>/cdnkit-tenant-<id>.tar.gz` (mode 0600), whose one folder holds the bundle's files. */
export async function writeBundle(input: BundleInput, dir: string): Promise<string> {
  const folder = `cdnkit-tenant-${input.tenant.id}`;
  const staging = mkdtempSync(join(tmpdir(), 'cdnkit-bundle-'));
  try {
    const root = join(staging, folder);
    mkdirSync(root, { mode: 0o700 });
    for (const file of bundleFiles(input)) {
      writeFileSync(join(root, file.path), file.content, { mode: file.secret ? 0o600 : 0o644 });
    }
    if (input.tenants.caFile) copyFileSync(input.tenants.caFile, join(root, CA_FILE));
    mkdirSync(dir, { recursive: true });
    const archive = resolve(dir, `${folder}.tar.gz`);
    writeFileSync(archive, '', { mode: 0o600 });
    chmodSync(archive, 0o600);
    await run('tar', ['-czf', archive, '-C', staging, folder]);
    return archive;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

function run(program: string, args: string[]): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawnChild(program, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    child.on('error', (error) => reject(new Error(`cannot run ${program}: ${error.message}`)));
    child.on('close', (code) => (code === 0 ? resolvePromise() : reject(new Error(`${program} ${basename(args[1] ?? '')} exited with ${code}: ${err.trim()}`))));
  });
}

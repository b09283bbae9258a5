// `npm run services:up` / `services:down`: the test servers (Kafka, Elasticsearch, InfluxDB) for
// development and demos. `up` starts them in a background process and prints where they are; a
// later `npm test` finds them there and reuses them instead of starting its own.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir } from './cache.js';
import { alive, sleep } from './process.js';
import { startServices, type ServiceAddresses } from './services/index.js';

const STATE = join(cacheDir('services'), 'state.json');
const LOG = join(cacheDir('services'), 'services.log');

interface State {
  pid: number;
  addresses: ServiceAddresses;
}

function readState(): State | undefined {
  if (!existsSync(STATE)) return undefined;
  const state = JSON.parse(readFileSync(STATE, 'utf8')) as State;
  return alive(state.pid) ? state : undefined;
}

function describe({ addresses }: State): string {
  const { kafka, elasticsearch, influxdb } = addresses;
  return [
    `  Kafka          ${kafka.brokers.join(',')}            (CDNKIT_KAFKA_BROKERS)`,
    ...(kafka.security
      ? [
          `                 SASL_PLAINTEXT ${kafka.security.saslBrokers}, SASL_SSL ${kafka.security.sslBrokers} (CA ${kafka.security.caFile})`,
          `                 SCRAM-SHA-256/512 and PLAIN user ${kafka.security.admin.username}, password ${kafka.security.admin.password}`,
        ]
      : []),
    `  Elasticsearch  ${elasticsearch.url}     (CDNKIT_ES_URL; no security)`,
    `  InfluxDB       ${influxdb.url}     (CDNKIT_INFLUX_URL)`,
    `                 org ${influxdb.org}, bucket ${influxdb.bucket}, token ${influxdb.token}`,
    `  log            ${LOG}`,
    `Stop them with: npm run services:down`,
  ].join('\n');
}

async function up(): Promise<void> {
  const running = readState();
  if (running) {
    process.stdout.write(`Already running (pid ${running.pid}):\n${describe(running)}\n`);
    return;
  }
  const log = openSync(LOG, 'w');
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), 'serve'], {
    detached: true,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  child.unref();
  process.stdout.write(`Starting the services (first run downloads and builds them; progress below) ...\n`);
  let shown = 0;
  for (;;) {
    const text = existsSync(LOG) ? readFileSync(LOG, 'utf8') : '';
    process.stdout.write(text.slice(shown));
    shown = text.length;
    const state = readState();
    if (state) {
      process.stdout.write(`\nReady:\n${describe(state)}\n`);
      return;
    }
    if (!alive(child.pid!)) throw new Error(`the services process exited; see ${LOG}`);
    await sleep(500);
  }
}

async function serve(): Promise<void> {
  const services = await startServices();
  writeFileSync(STATE, JSON.stringify({ pid: process.pid, addresses: services.addresses } satisfies State, null, 2));
  const stop = async () => {
    await services.stop();
    rmSync(STATE, { force: true });
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
  // Keep the process (and the servers it owns) alive until told to stop.
  setInterval(() => undefined, 1 << 30);
}

async function down(): Promise<void> {
  const state = readState();
  if (!state) {
    process.stdout.write('No services are running.\n');
    return;
  }
  process.kill(state.pid, 'SIGTERM');
  while (alive(state.pid)) await sleep(200);
  process.stdout.write('Stopped.\n');
}

const commands: Record<string, () => Promise<void>> = { up, down, serve };
const command = commands[process.argv[2] ?? ''];
if (!command) {
  process.stderr.write('usage: services-cli.ts up|down\n');
  process.exit(2);
}
command().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

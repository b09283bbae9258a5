// @confluentinc/kafka-javascript (librdkafka) for the benchmark only: installed into the cache, pinned,
// never into the project's dependencies, so that kafkajs can be measured against it (issue 11, item 3).
//
// Built from source: its install first asks GitHub for a prebuilt binary (no internet here: ENOTFOUND),
// then falls back to node-gyp. CKJS_LINKING=dynamic configures the librdkafka source the package
// carries (deps/librdkafka, 2.15.1) against the system's OpenSSL and zlib instead of downloading
// their sources (the static default's --install-deps), and links the addon to that librdkafka.so.
// Debian 12's librdkafka-dev is 2.0.2 and is not used by this build. About 1.5 min on 2 cores.
import { existsSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { cacheDir } from '../../src/local/cache.js';
import { mustRun } from '../../src/local/process.js';
import { step } from '../../src/local/progress.js';

export const CKJS_VERSION = '1.10.1';

/** The KafkaJS-compatible part of the package, as far as the benchmark uses it. */
export interface CkjsKafkaJS {
  Kafka: new (config: { kafkaJS: Record<string, unknown> }) => {
    consumer(config: { kafkaJS: Record<string, unknown>; [rdkafka: string]: unknown }): CkjsConsumer;
  };
  logLevel: Record<'NOTHING' | 'ERROR', number>;
}
export interface CkjsConsumer {
  connect(): Promise<void>;
  subscribe(s: { topics: string[] }): Promise<void>;
  run(r: { eachBatch: (p: { batch: { messages: { value: Buffer | null }[] } }) => Promise<void>; partitionsConsumedConcurrently?: number }): Promise<void>;
  disconnect(): Promise<void>;
}

/** The package, built once into <cache>/ckjs/<version>; its librdkafka version too. */
export async function ensureCkjs(): Promise<{ KafkaJS: CkjsKafkaJS; librdkafkaVersion: string; dir: string }> {
  const dir = cacheDir('ckjs', CKJS_VERSION);
  const addon = join(dir, 'node_modules/@confluentinc/kafka-javascript/build/Release/confluent-kafka-javascript.node');
  if (!existsSync(addon)) {
    await step(`@confluentinc/kafka-javascript ${CKJS_VERSION}: build from source into ${dir} (CKJS_LINKING=dynamic; about 1.5 min)`, async () => {
      writeFileSync(join(dir, 'package.json'), '{"name":"cdnkit-bench-ckjs","private":true}\n');
      await mustRun('npm', ['install', `@confluentinc/kafka-javascript@${CKJS_VERSION}`, '--foreground-scripts', '--no-audit', '--no-fund'], {
        cwd: dir,
        env: { ...process.env, CKJS_LINKING: 'dynamic' },
        label: 'npm install @confluentinc/kafka-javascript (node-gyp)',
        heartbeatMs: 15_000,
      });
      if (!existsSync(addon)) throw new Error(`npm install finished but ${addon} is missing`);
    });
  }
  const pkg = createRequire(join(dir, 'package.json'))('@confluentinc/kafka-javascript') as { KafkaJS: CkjsKafkaJS; librdkafkaVersion: string };
  return { KafkaJS: pkg.KafkaJS, librdkafkaVersion: pkg.librdkafkaVersion, dir };
}

// What a bridge builds from the kit config to reach Kafka, and how it says what is missing.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { kafkaConnection } from '../../src/bridge/kafka-client.js';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const dir = mkdtempSync(join(tmpdir(), 'cdnkit-kafka-client-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  delete process.env.TEST_KAFKA_PASSWORD;
  delete process.env.TEST_KEY_PASSPHRASE;
});

describe('kafkaConnection', () => {
  it('is plain brokers when the config has neither tls nor sasl', () => {
    expect(kafkaConnection(['k:9092'], {})).toEqual({ brokers: ['k:9092'] });
  });

  it('builds TLS from the PEM files (the key defaults to the certificate file) and SASL with the password from the environment', () => {
    process.env.TEST_KAFKA_PASSWORD = 's3cret';
    process.env.TEST_KEY_PASSPHRASE = 'p4ss';
    const ca = file('ca.pem', PEM);
    const both = file('client.pem', PEM.replace('CERTIFICATE', 'PRIVATE KEY') + PEM);
    const connection = kafkaConnection(['k:9094'], {
      tls: { caFile: ca, certFile: both, keyPassphraseEnv: 'TEST_KEY_PASSPHRASE' },
      sasl: { mechanism: 'SCRAM-SHA-256', username: 'cdnkit', passwordEnv: 'TEST_KAFKA_PASSWORD' },
    });
    expect(connection).toEqual({
      brokers: ['k:9094'],
      ssl: { ca: [PEM], cert: PEM.replace('CERTIFICATE', 'PRIVATE KEY') + PEM, key: PEM.replace('CERTIFICATE', 'PRIVATE KEY') + PEM, passphrase: 'p4ss' },
      sasl: { mechanism: 'scram-sha-256', username: 'cdnkit', password: 's3cret' },
    });
  });

  it('tls without files means TLS trusting the system CAs', () => {
    expect(kafkaConnection(['k:9093'], { tls: {} })).toEqual({ brokers: ['k:9093'], ssl: {} });
  });

  it('names the variable when the password is not in the environment', () => {
    expect(() => kafkaConnection(['k:9092'], { sasl: { mechanism: 'PLAIN', username: 'cdnkit', passwordEnv: 'TEST_KAFKA_PASSWORD' } })).toThrow(
      'the password of the Kafka user cdnkit is read from the environment variable TEST_KAFKA_PASSWORD, which is not set',
    );
  });

  it('names the key and the path of a file it cannot use', () => {
    expect(() => kafkaConnection(['k:9092'], { tls: { caFile: join(dir, 'missing.pem') } })).toThrow(`kafka.tls.caFile: cannot read ${join(dir, 'missing.pem')} (ENOENT)`);
    const notPem = file('ca.der', 'binary');
    expect(() => kafkaConnection(['k:9092'], { tls: { caFile: notPem } })).toThrow(`kafka.tls.caFile: ${notPem} is not a PEM file`);
  });
});

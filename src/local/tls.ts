// Throwaway TLS material for servers the harness starts with TLS (Kafka's SASL_SSL listener,
// Elasticsearch with security on): a CA valid for a few days, made by openssl at start.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mustRun } from './process.js';

export interface Certificates {
  /** PEM of the CA that signed both certificates. */
  caFile: string;
  /** For 127.0.0.1 and localhost; the key is PKCS#8, unencrypted. */
  serverCertFile: string;
  serverKeyFile: string;
  /** A client certificate, for servers that require one. */
  clientCertFile: string;
  clientKeyFile: string;
}

export async function makeCertificates(dir: string): Promise<Certificates> {
  mkdirSync(dir, { recursive: true });
  const at = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => mustRun('openssl', args, { cwd: dir });
  await openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', at('ca.key'), '-out', at('ca.pem'), '-days', '7', '-subj', '/CN=cdnkit test CA');
  const sign = async (name: string, subject: string, extensions: string) => {
    writeFileSync(at(`${name}.ext`), extensions);
    await openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', at(`${name}.key`), '-out', at(`${name}.csr`), '-subj', subject);
    await openssl('x509', '-req', '-in', at(`${name}.csr`), '-CA', at('ca.pem'), '-CAkey', at('ca.key'), '-CAcreateserial', '-days', '7', '-out', at(`${name}.pem`), '-extfile', at(`${name}.ext`));
  };
  await sign('server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await sign('client', '/CN=cdnkit-test-client', 'extendedKeyUsage=clientAuth\n');
  return { caFile: at('ca.pem'), serverCertFile: at('server.pem'), serverKeyFile: at('server.key'), clientCertFile: at('client.pem'), clientKeyFile: at('client.key') };
}

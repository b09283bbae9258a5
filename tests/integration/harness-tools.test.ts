// The real programs from src/local/tools.ts: each one is obtained (or found in the cache),
// reports its pinned version, and behaves the way the artifact tests rely on.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { stripVTControlCharacters } from 'node:util';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CONSUL_TEMPLATE_VERSION,
  FALCO_VERSION,
  RSYSLOG_VERSION,
  VARNISH_VERSION,
  ensureConsulTemplate,
  ensureFalco,
  ensureRsyslog,
  ensureVarnish,
  type Rsyslog,
  type Varnish,
} from '../../src/local/tools.js';
import { runCommand, freePort, spawnChild } from '../../src/local/process.js';

// A cold machine builds two Go programs and installs two apt packages; the globalSetup normally
// did that already and these calls are the cached fast path.
const INSTALL_TIMEOUT = 30 * 60_000;

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'cdnkit-tools-'));
  // varnishd started as root drops to its own user (vcache) and must read the VCL: mkdtemp makes 0700.
  chmodSync(scratch, 0o755);
});
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

function dir(name: string): string {
  const path = join(scratch, name);
  mkdirSync(path, { recursive: true });
  return path;
}

describe('falco', () => {
  let falco: string;
  beforeAll(async () => {
    falco = await ensureFalco();
  }, INSTALL_TIMEOUT);

  // falco reads .falco.yaml / .falco.yml from its working directory, so it runs in a clean one.
  const lint = async (vcl: string, extra: string[] = []) => {
    const cwd = dir(`falco-${Math.random().toString(36).slice(2)}`);
    writeFileSync(join(cwd, 'main.vcl'), vcl);
    return runCommand(falco, ['lint', ...extra, join(cwd, 'main.vcl')], { cwd, timeoutMs: 30_000 });
  };

  it('prints its pinned version (on stderr; the harness stamps it with -ldflags)', async () => {
    const { code, stdout, stderr } = await runCommand(falco, ['-V']);
    expect(code).toBe(0);
    // falco colours its output when CI=true is set, as CI does.
    expect(stripVTControlCharacters(stdout + stderr).trim()).toBe(FALCO_VERSION);
  });

  it('lint exits 0 for valid VCL with a log statement', async () => {
    const result = await lint(
      [
        'sub vcl_recv {',
        '  #FASTLY recv',
        '  return(lookup);',
        '}',
        'sub vcl_log {',
        '  #FASTLY log',
        '  log "syslog " req.service_id " cdn-metrics :: " "cdnmetrics,pop=" server.datacenter " elapsed_time=1i " time.end.usec "000";',
        '}',
        '',
      ].join('\n'),
    );
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout + result.stderr).toContain('0 errors');
  });

  it('lint exits 0 when there are only warnings (they show in -json output)', async () => {
    const result = await lint(
      'sub vcl_recv {\n  #FASTLY recv\n  return(lookup);\n}\nsub unused_sub {\n  set req.http.X = "1";\n}\n',
      ['-json'],
    );
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { Errors: number; Warnings: number };
    expect(report.Errors).toBe(0);
    expect(report.Warnings).toBeGreaterThan(0);
  });

  it('lint exits 1 for a semantic error and for a parse error', async () => {
    const semantic = await lint('sub vcl_recv {\n  set req.http.X-Foo = undefined_var;\n  return(lookup);\n}\n', ['-json']);
    expect(semantic.code).toBe(1);
    expect((JSON.parse(semantic.stdout) as { Errors: number }).Errors).toBeGreaterThan(0);

    const parseError = 'sub vcl_recv {\n  set req.http.X = "a"\n}\n';
    const plain = await lint(parseError);
    expect(plain.code).toBe(1);
    expect(plain.stdout + plain.stderr).toContain('Missing semicolon');
  });

  it('PITFALL: lint -json exits 0 on a parse error; only ParseErrors tells', async () => {
    const parse = await lint('sub vcl_recv {\n  set req.http.X = "a"\n}\n', ['-json']);
    expect(parse.code).toBe(0);
    const report = JSON.parse(parse.stdout) as { Errors: number; ParseErrors: Record<string, { Message: string }> };
    expect(report.Errors).toBe(0);
    expect(Object.values(report.ParseErrors)[0]?.Message).toBe('Missing semicolon');
  });
});

describe('consul-template', () => {
  let ct: string;
  beforeAll(async () => {
    ct = await ensureConsulTemplate();
  }, INSTALL_TIMEOUT);

  const template = [
    'input {',
    '  tcp {',
    '    port => 514',
    '{{- if eq (env "CDN_LOG_TYPE") "logs" }}',
    '    codec => json',
    '{{- else }}',
    '    codec => plain',
    '{{- end }}',
    '    type => "{{ env "CDN_LOG_TYPE" }}"',
    '  }',
    '}',
    '',
  ].join('\n');
  const expected = (type: string, codec: string) =>
    `input {\n  tcp {\n    port => 514\n    codec => ${codec}\n    type => "${type}"\n  }\n}\n`;

  // No Consul server exists. A template that only uses `env` never contacts Consul, so -once
  // renders and exits at once; CONSUL_HTTP_ADDR pointing nowhere proves nothing is dialled.
  const render = (args: string[], env: Record<string, string>) =>
    runCommand(ct, ['-once', ...args], {
      env: { ...process.env, CONSUL_HTTP_ADDR: '127.0.0.1:1', ...env },
      // A template that did use Consul would retry for ~5 minutes and ignore SIGTERM meanwhile.
      timeoutMs: 20_000,
    });

  it('prints its pinned version', async () => {
    const { code, stdout, stderr } = await runCommand(ct, ['-v']);
    expect(code).toBe(0);
    expect(stdout + stderr).toContain(`consul-template ${CONSUL_TEMPLATE_VERSION}`);
  });

  it('renders an env-only template once to a file, with no Consul server', async () => {
    const work = dir('ct-file');
    writeFileSync(join(work, 'receiver.conf.ctmpl'), template);
    for (const [type, codec] of [
      ['logs', 'json'],
      ['metrics', 'plain'],
    ] as const) {
      const out = join(work, `receiver-${type}.conf`);
      const result = await render(['-template', `${join(work, 'receiver.conf.ctmpl')}:${out}`], { CDN_LOG_TYPE: type });
      expect(result.code, result.stderr).toBe(0);
      expect(result.durationMs).toBeLessThan(10_000);
      expect(readFileSync(out, 'utf8')).toBe(expected(type, codec));
    }
  });

  it('-dry prints the render to stdout after a "> <destination>" line and writes no file', async () => {
    const work = dir('ct-dry');
    writeFileSync(join(work, 'in.ctmpl'), template);
    const out = join(work, 'out.conf');
    const result = await render(['-dry', '-template', `${join(work, 'in.ctmpl')}:${out}`], { CDN_LOG_TYPE: 'metrics' });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`> ${out}\n${expected('metrics', 'plain')}`);
    expect(existsSync(out)).toBe(false);
  });

  it('renders an unset variable as empty and fails (exit 14) on a template syntax error', async () => {
    const work = dir('ct-errors');
    writeFileSync(join(work, 'unset.ctmpl'), 'a={{ env "CDNKIT_SURELY_UNSET" }}|');
    const unset = await render(['-template', `${join(work, 'unset.ctmpl')}:${join(work, 'unset.out')}`], {});
    expect(unset.code).toBe(0);
    expect(readFileSync(join(work, 'unset.out'), 'utf8')).toBe('a=|');

    writeFileSync(join(work, 'broken.ctmpl'), '{{ if eq (env "A") }}\n');
    const broken = await render(['-template', `${join(work, 'broken.ctmpl')}:${join(work, 'broken.out')}`], {});
    expect(broken.code).toBe(14);
    expect(broken.stderr).toContain('parse');
  });
});

describe('rsyslog with omkafka', () => {
  let rs: Rsyslog;
  beforeAll(async () => {
    rs = await ensureRsyslog();
  }, INSTALL_TIMEOUT);

  const receiver = (workDir: string, logsPort: number, metricsPort: number) => `
global(workDirectory="${workDir}")
module(load="imtcp")
module(load="omkafka")
template(name="cdnkit_raw" type="string" string="%rawmsg%")
input(type="imtcp" address="127.0.0.1" port="${logsPort}" ruleset="cdn_logs")
input(type="imtcp" address="127.0.0.1" port="${metricsPort}" ruleset="cdn_metrics")
ruleset(name="cdn_logs") {
  action(type="omkafka" broker=["127.0.0.1:9"] topic="cdn-logs" template="cdnkit_raw")
}
ruleset(name="cdn_metrics") {
  action(type="omkafka" broker=["127.0.0.1:9"] topic="cdn-metrics" template="cdnkit_raw")
}
`;

  const validate = (config: string) => {
    const work = dir(`rs-${Math.random().toString(36).slice(2)}`);
    const file = join(work, 'rsyslog.conf');
    writeFileSync(file, config.replaceAll('@WORK@', work));
    return runCommand(rs.rsyslogd, ['-N1', '-f', file], { timeoutMs: 30_000 });
  };

  it('prints its pinned version and ships omkafka', async () => {
    const { stdout } = await runCommand(rs.rsyslogd, ['-v']);
    expect(stdout).toMatch(new RegExp(`rsyslogd\\s+${RSYSLOG_VERSION.replaceAll('.', '\\.')}`));
    expect(existsSync(join(rs.moduleDir, 'omkafka.so'))).toBe(true);
    expect(existsSync(join(rs.moduleDir, 'imtcp.so'))).toBe(true);
  });

  it('-N1 accepts the two-ruleset imtcp -> omkafka receiver', async () => {
    const result = await validate(receiver('@WORK@', 15140, 15141));
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('End of config validation run');
  });

  it('-N1 rejects an unknown module, a missing required parameter, an unknown template, a syntax error and a missing work directory', async () => {
    const good = receiver('@WORK@', 15140, 15141);
    const broken = {
      unknownModule: good.replaceAll('type="omkafka"', 'type="omkafkaa"'),
      missingTopic: good.replace('topic="cdn-metrics"', 'topc="cdn-metrics"'),
      unknownTemplate: good.replace('template="cdnkit_raw")\n}\nruleset(name="cdn_metrics")', 'template="nope")\n}\nruleset(name="cdn_metrics")'),
      syntax: good.replace('ruleset(name="cdn_metrics") {', 'ruleset(name="cdn_metrics" {'),
      noWorkDir: good.replace('@WORK@', '@WORK@/does-not-exist'),
    };
    for (const [name, config] of Object.entries(broken)) {
      const result = await validate(config);
      expect(result.code, `${name}: ${result.stderr}`).not.toBe(0);
    }
  });

  it('runs in the foreground on a private config, pid file and work directory, listens, and stops on SIGTERM', async () => {
    const work = dir('rs-live');
    const [logsPort, metricsPort] = [await freePort(), await freePort()];
    const config = join(work, 'rsyslog.conf');
    const pidFile = join(work, 'rsyslogd.pid');
    writeFileSync(config, receiver(work, logsPort, metricsPort));

    const child = spawnChild(rs.rsyslogd, ['-n', '-f', config, '-i', pidFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await waitForPort(logsPort, 10_000);
      await waitForPort(metricsPort, 10_000);
      expect(Number(readFileSync(pidFile, 'utf8').trim())).toBe(child.pid);
      await sendLine(logsPort, '{"resp_status":503}\n');
    } finally {
      child.kill('SIGTERM');
    }
    // omkafka waits up to its closeTimeout (2 s by default) for undelivered messages on shutdown.
    const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 15_000))]);
    if (code === 'hung') child.kill('SIGKILL');
    expect(code, stderr).toBe(0);
    expect(existsSync(pidFile)).toBe(false);
    // No broker exists, so omkafka reports the undelivered message: proof the rule forwarded it.
    expect(stderr).toMatch(/omkafka/);
  }, 30_000);
});

describe('varnish', () => {
  let varnish: Varnish;
  beforeAll(async () => {
    varnish = await ensureVarnish();
  }, INSTALL_TIMEOUT);

  it('varnishd and varnishncsa print the pinned version', async () => {
    expect(varnish.version).toBe(VARNISH_VERSION);
    for (const bin of [varnish.varnishd, varnish.varnishncsa]) {
      const { stdout, stderr } = await runCommand(bin, ['-V']);
      expect(stdout + stderr).toContain(`varnish-${VARNISH_VERSION}`);
    }
  });

  it('varnishd -C compiles good VCL and rejects bad VCL', async () => {
    const work = dir('varnish');
    const vcl = (deliver: string) =>
      `vcl 4.1;\nbackend default { .host = "127.0.0.1"; .port = "9"; }\nsub vcl_deliver { ${deliver} }\n`;
    writeFileSync(join(work, 'good.vcl'), vcl('set resp.http.X-Cdnkit = "1";'));
    writeFileSync(join(work, 'bad.vcl'), vcl('set resp.http.X-Cdnkit = no_such_thing;'));
    const good = await runCommand(varnish.varnishd, ['-C', '-n', join(work, 'n'), '-f', join(work, 'good.vcl')], { timeoutMs: 60_000 });
    expect(good.code, good.stderr).toBe(0);
    const bad = await runCommand(varnish.varnishd, ['-C', '-n', join(work, 'n'), '-f', join(work, 'bad.vcl')], { timeoutMs: 60_000 });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('VCL compilation failed');
  });
});


async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function sendLine(port: number, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => socket.end(line));
    socket.once('error', reject);
    socket.once('close', () => resolve());
  });
}

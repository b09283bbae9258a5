// The `cdnkit` command as a user runs it: the built CLI, in a scratch folder.
import { spawnSync } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { scratchDir } from '../support/scratch.js';

const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
let dir: string;

function cdnkit(...args: string[]) {
  const result = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function tree(root: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else files[relative(root, path)] = readFileSync(path, 'utf8');
    }
  };
  walk(root);
  return files;
}

beforeAll(() => {
  dir = scratchDir('cdnkit-cli-');
});

// Each case starts the built CLI several times: on a busy two-core machine that alone can take
// seconds, so the whole file gets room (nothing here measures time).
describe('cdnkit CLI', { timeout: 30_000 }, () => {
  it('init writes a starter that validates, and refuses to overwrite it without --force', () => {
    expect(cdnkit('init').code).toBe(0);
    const validate = cdnkit('validate', '-c', 'cdnkit.yaml');
    expect(validate.code).toBe(0);
    expect(validate.stdout).toContain('cdnkit.yaml: valid');
    const again = cdnkit('init');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('--force');
  });

  it('generate writes every artifact, lists them, and writes the same bytes every time', () => {
    const first = cdnkit('generate', '-c', 'cdnkit.yaml', '-o', 'out1');
    expect(first.code).toBe(0);
    for (const path of ['fastly/cdnkit_log.vcl', 'varnish/cdnkit.vcl', 'varnish/example.vcl', 'varnish/cdnkit-logs.format', 'varnish/cdnkit-metrics.format',
      'varnish/cdnkit-varnishncsa.sh', 'receivers/logstash/cdn-logs.conf', 'receivers/logstash/cdn-metrics.conf', 'receivers/logstash/cdn-receiver.conf.ctmpl',
      'receivers/rsyslog/cdnkit.conf', 'elasticsearch/index-template.json', 'README.md']) {
      expect(first.stdout, path).toContain(join('out1', path));
    }
    expect(cdnkit('generate', '-c', 'cdnkit.yaml', '-o', 'out2').code).toBe(0);
    expect(tree(join(dir, 'out2'))).toEqual(tree(join(dir, 'out1')));
    expect(statSync(join(dir, 'out1/varnish/cdnkit-varnishncsa.sh')).mode & 0o111).not.toBe(0);
  });

  it('generate --check passes on fresh output and fails, naming the file, when it is stale', () => {
    expect(cdnkit('generate', '-c', 'cdnkit.yaml', '-o', 'out1', '--check').code).toBe(0);
    writeFileSync(join(dir, 'out1/receivers/rsyslog/cdnkit.conf'), '# edited by hand\n');
    const stale = cdnkit('generate', '-c', 'cdnkit.yaml', '-o', 'out1', '--check');
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain(join('out1', 'receivers/rsyslog/cdnkit.conf'));
  });

  it('a broken config: every problem with file, line and key, exit 1, nothing generated', () => {
    writeFileSync(join(dir, 'broken.yaml'), 'product: api\nerrors:\n  minStatus: lots\nfields:\n  - name: a\n    roles: [tags]\n');
    const result = cdnkit('generate', '-c', 'broken.yaml', '-o', 'never');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('broken.yaml:3:3: error: errors.minStatus: expected number, got "lots"');
    expect(result.stderr).toMatch(/broken\.yaml:6:\d+: error: fields\[0\]\.roles\[0\]: expected one of "log", "tag", "field", got "tags"/);
    expect(result.stderr).toContain('nothing was generated');
    expect(() => statSync(join(dir, 'never'))).toThrow();
  });

  it('validate --strict turns warnings into a failure', () => {
    const text = readFileSync(join(dir, 'cdnkit.yaml'), 'utf8').replace(
      /  - name: client_ip\n    type: ip\n    roles: \[ log \]/,
      '  - name: client_ip\n    type: ip\n    roles: [ log, tag ]',
    );
    writeFileSync(join(dir, 'warned.yaml'), text);
    const lenient = cdnkit('validate', '-c', 'warned.yaml');
    expect(lenient.code).toBe(0);
    expect(lenient.stderr).toContain('high-cardinality');
    expect(cdnkit('validate', '-c', 'warned.yaml', '--strict').code).toBe(1);
  });

  it('generate --check also reports missing files, files it does not generate, and a changed executable bit', () => {
    expect(cdnkit('generate', '-c', 'cdnkit.yaml', '-o', 'out3').code).toBe(0);
    rmSync(join(dir, 'out3/elasticsearch/index-template.json'));
    writeFileSync(join(dir, 'out3/varnish/old-field.format'), 'left behind\n');
    chmodSync(join(dir, 'out3/varnish/cdnkit-varnishncsa.sh'), 0o644);
    chmodSync(join(dir, 'out3/README.md'), 0o755);
    const check = cdnkit('generate', '-c', 'cdnkit.yaml', '-o', 'out3', '--check');
    expect(check.code).toBe(1);
    expect(check.stderr).toContain(`missing: ${join('out3', 'elasticsearch/index-template.json')}`);
    expect(check.stderr).toContain(`not generated: ${join('out3', 'varnish/old-field.format')}`);
    expect(check.stderr).toContain(`not executable, should be: ${join('out3', 'varnish/cdnkit-varnishncsa.sh')}`);
    expect(check.stderr).toContain(`executable, should not be: ${join('out3', 'README.md')}`);
    expect(check.stderr).toContain('4 difference(s)');
  });

  // What only a generator can check (a line or record too long) is found by validate, at the line
  // of the config that causes it, in the same form as any config error.
  it.each([
    {
      cdn: 'fastly',
      fields: Array.from({ length: 80 }, (_, i) => `  - name: header_${i}\n    roles: [log]\n    fastly: req.http.H${i}\n`),
      number: '  - name: elapsed_time\n    type: integer\n    roles: [field]\n    fastly: std.atoi(time.elapsed.msec)\n',
      message: /Fastly: the error JSON line could reach \d+ bytes \(its 80 string values \(header_0, header_1, .*header_79\) at 64 characters/,
    },
    {
      cdn: 'varnish',
      fields: Array.from({ length: 70 }, (_, i) => `  - name: tag_${i}\n    roles: [tag]\n    varnish: req.http.T${i}\n`),
      number: '  - name: elapsed_time\n    type: integer\n    roles: [field]\n    varnish: { ncsa: "%{ms}T" }\n',
      message: /Varnish: the record of all VCL tags \(tag_0, tag_1, .*tag_69\) could be \d+ bytes, more than vsl_reclen/,
    },
  ])('validate and generate refuse what the $cdn generator cannot log, at the line of the fields', ({ cdn, fields, number, message }) => {
    writeFileSync(join(dir, `many-${cdn}.yaml`), `product: api\ncdn:\n  flavours: [${cdn}]\nfields:\n${number}${fields.join('')}`);
    for (const args of [['validate'], ['generate', '-o', `never-${cdn}`]]) {
      const result = cdnkit(...args, '-c', `many-${cdn}.yaml`);
      expect(result.code, args[0]).toBe(1);
      const line = result.stderr.split('\n').find((l) => l.startsWith(`many-${cdn}.yaml:4:1: error: fields: `));
      expect(line, result.stderr).toMatch(message);
    }
    expect(() => statSync(join(dir, `never-${cdn}`))).toThrow();
  });

  // Each case starts node: allow for a loaded machine.
  it('usage errors exit 2, as the help says', () => {
    for (const args of [['validate', '--no-such-option'], ['no-such-command'], ['bridge', 'traces'], ['doctor', '--timeout', '0'], ['doctor', '--grafana-url', 'ftp://grafana'], ['dead-letters', '--limit', 'many']]) {
      expect(cdnkit(...args).code, args.join(' ')).toBe(2);
    }
  });

  it('--help teaches: every command explains itself with an example', () => {
    for (const command of ['init', 'validate', 'generate', 'bridge', 'schema', 'doctor', 'dead-letters']) {
      const help = cdnkit(command, '--help');
      expect(help.code, command).toBe(0);
      expect(help.stdout, command).toContain('Example');
    }
  });
});

// The README is what a newcomer follows on a fresh clone, so its commands are tested as written:
// the two set-up commands are the ones CI runs; every `npm run` script and every `cdnkit` command,
// subcommand and flag it and the documents under docs/ show exists; every file they link to is
// there; and the main job's command writes the artifacts.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { scratchDir } from '../support/scratch.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(ROOT, 'dist/src/cli/main.js');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
/** The README and the documents it leads to, by path. */
const DOCUMENTS = new Map(
  ['README.md', 'bench/README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)].map((path) => [
    path,
    readFileSync(join(ROOT, path), 'utf8'),
  ]),
);
const SCRIPTS = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;

/** The shell commands of every ```sh block, one per line, without trailing comments. */
function shellCommands(markdown: string): string[][] {
  return [...markdown.matchAll(/^```(?:sh|bash|shell)\n([\s\S]*?)^```/gm)].map((block) =>
    block[1]!
      .split('\n')
      .map((line) => line.replace(/\s+#.*$/, '').trim())
      .filter((line) => line !== '' && !line.startsWith('#')),
  );
}

const COMMANDS = [...DOCUMENTS.values()].flatMap((text) => shellCommands(text).flat());

/** The words after `cdnkit` in a command line that runs the CLI, or undefined. */
function cdnkitArguments(command: string): string[] | undefined {
  const match = /(?:^|&&\s*|\s)(?:npx cdnkit|npm run cdnkit --|cdnkit)\s+(.*)$/.exec(command);
  return match ? match[1]!.split(/\s+/) : undefined;
}

const helpTexts = new Map<string, string>();
function help(path: string[]): string {
  const key = path.join(' ');
  if (!helpTexts.has(key)) {
    const result = spawnSync(process.execPath, [CLI, ...path, '--help'], { encoding: 'utf8' });
    expect(result.status, `cdnkit ${key} --help: ${result.stderr}`).toBe(0);
    helpTexts.set(key, result.stdout);
  }
  return helpTexts.get(key)!;
}

/** Subcommand names listed under "Commands:" in a help text. */
function subcommands(helpText: string): string[] {
  const section = helpText.split(/^Commands:\n/m)[1] ?? '';
  return [...section.matchAll(/^ {2}(\S+)/gm)].map((m) => m[1]!).filter((name) => name !== 'help');
}

describe('README and docs', { timeout: 60_000 }, () => {
  it('the README starts with the two set-up commands, and the test command is exactly what CI runs', () => {
    const [setUp] = shellCommands(README);
    expect(setUp).toEqual(['npm ci && npm run generate', 'npm ci && npm test']);
    const ciCommand = readFileSync(join(ROOT, '.ci/run'), 'utf8').trim().split('\n').at(-1);
    expect(ciCommand).toBe(setUp![1]);
  });

  it('name only npm scripts that exist', () => {
    const named = COMMANDS.flatMap((command) => [...command.matchAll(/npm run ([\w:-]+)/g)].map((m) => m[1]!));
    expect(named.length).toBeGreaterThan(0);
    for (const script of named) expect(Object.keys(SCRIPTS), `npm run ${script}`).toContain(script);
  });

  it('show only cdnkit commands, subcommands and flags that exist', () => {
    const lines = COMMANDS.map((command) => [command, cdnkitArguments(command)] as const).filter(([, args]) => args);
    expect(lines.length).toBeGreaterThan(5);
    for (const [command, args] of lines) {
      const path: string[] = [];
      for (const word of args!) {
        if (!subcommands(help(path)).includes(word)) break;
        path.push(word);
      }
      expect(path.length, `${command}: names no cdnkit command`).toBeGreaterThan(0);
      for (const flag of args!.filter((word) => word.startsWith('--')).map((word) => word.split('=')[0]!)) {
        expect(help(path), `${command}: cdnkit ${path.join(' ')} has no ${flag}`).toContain(flag);
      }
    }
  });

  it('link only to files that exist', () => {
    for (const [path, text] of DOCUMENTS) {
      const links = [...text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)].map((m) => m[1]!).filter((link) => !/^[a-z]+:/.test(link));
      for (const link of links) expect(existsSync(resolve(ROOT, dirname(path), link)), `${path}: ${link}`).toBe(true);
    }
  });

  it("the README's main job, `npm run generate`, writes every artifact for the starter config, up to date", () => {
    // A copy of the package's top folder, as a fresh clone has it after `npm ci` (node_modules and
    // the build linked, not copied): `out/` is written there, not into this checkout.
    const clone = scratchDir('cdnkit-readme-');
    for (const file of ['package.json', 'cdnkit.example.yaml']) copyFileSync(join(ROOT, file), join(clone, file));
    for (const folder of ['node_modules', 'dist', 'templates', 'schema']) symlinkSync(join(ROOT, folder), join(clone, folder));
    const run = spawnSync('npm', ['run', 'generate'], { cwd: clone, encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    const check = spawnSync(process.execPath, [CLI, 'generate', '--check', '-c', 'cdnkit.example.yaml', '-o', 'out'], { cwd: clone, encoding: 'utf8' });
    expect(check.status, check.stdout + check.stderr).toBe(0);
    for (const artifact of ['fastly/cdnkit_log.vcl', 'receivers/rsyslog/cdnkit.conf', 'elasticsearch/index-template.json']) {
      expect(existsSync(join(clone, 'out', artifact)), artifact).toBe(true);
    }
  });
});

// The installed cdnkit package's root (templates/, schema/, package.json live there), found the
// same way whether the code runs from src/ under tsx or from the compiled dist/src/.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'templates'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the cdnkit package root (package.json next to templates/)');
    dir = parent;
  }
  root = dir;
  return dir;
}

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/** The compiled `cdnkit` command (dist/src/cli/main.js): what the local run and the tests start as child processes. */
export function builtCli(): string {
  return join(packageRoot(), 'dist', 'src', 'cli', 'main.js');
}

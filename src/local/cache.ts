// Where downloaded and built programs live between runs: outside the repository, so a fresh
// clone reuses them and `git clean` never throws away a 10-minute build.
import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export function cacheRoot(): string {
  const root =
    process.env.CDNKIT_CACHE ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'cdnkit');
  mkdirSync(root, { recursive: true });
  return root;
}

/** A sub-folder of the cache, created on first use. */
export function cacheDir(...parts: string[]): string {
  const dir = join(cacheRoot(), ...parts);
  mkdirSync(dir, { recursive: true });
  return dir;
}

// Reads a kit config file and turns every problem into a message that names the file, the line,
// the key and what would be valid — the difference between a config error fixed in seconds and one
// hunted for an afternoon.
import { readFileSync } from 'node:fs';
import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { kitConfigSchema, type KitConfig } from './schema.js';
import { checkConfig, type Check } from './checks.js';

export type Severity = 'error' | 'warning';
export type ConfigPath = readonly (string | number)[];

export interface ConfigProblem {
  severity: Severity;
  file: string;
  line: number;
  column: number;
  /** Dotted path to the key, e.g. `fields[3].roles`. */
  key: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.filter((p) => p.severity === 'error').map(formatProblem).join('\n'));
    this.name = 'ConfigError';
  }
}

export interface LoadedConfig {
  config: KitConfig;
  warnings: ConfigProblem[];
  /** A check of the loaded config (a generator's, say) as a problem at its line in the file. */
  problemAt(check: Check): ConfigProblem;
}

export function formatProblem(p: ConfigProblem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.severity}: ${p.key || '(top level)'}: ${p.message}`;
}

export function keyOf(path: ConfigPath): string {
  return path
    .map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? part : `.${part}`))
    .join('');
}

export function loadConfigFile(file: string): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : String(error);
    throw new ConfigError([{ severity: 'error', file, line: 1, column: 1, key: '', message: `cannot read the config: ${reason}` }]);
  }
  return parseConfig(text, file);
}

/** Parses and validates config text; `file` is only used in messages. */
export function parseConfig(text: string, file = 'cdnkit.yaml'): LoadedConfig {
  const { data, problem } = parseValidated(text, file, kitConfigSchema);
  const found = checkConfig(data).map((c) => problem(c.severity, c.path, c.message));
  const errors = found.filter((p) => p.severity === 'error');
  if (errors.length > 0) throw new ConfigError(found);
  return { config: data, warnings: found, problemAt: (c) => problem(c.severity, c.path, c.message) };
}

/** Parses YAML text against any schema, with the same file:line:column errors as the kit config. */
export function parseYaml<S extends z.ZodType>(text: string, file: string, schema: S): z.output<S> {
  return parseValidated(text, file, schema).data;
}

function parseValidated<S extends z.ZodType>(text: string, file: string, schema: S): { data: z.output<S>; problem: MakeProblem } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number) => lineCounter.linePos(offset);

  const syntax = [...doc.errors, ...doc.warnings];
  if (syntax.length > 0) {
    throw new ConfigError(
      syntax.map((e) => {
        const { line, col } = at(e.pos[0]);
        return { severity: 'error' as const, file, line, column: col, key: '', message: `YAML: ${e.message.split('\n')[0]}` };
      }),
    );
  }

  const locate = (path: ConfigPath): { line: number; column: number } => {
    const { node } = nodeAt(doc, path);
    const { line, col } = at(node?.range?.[0] ?? 0);
    return { line, column: col };
  };
  const problem = (severity: Severity, path: ConfigPath, message: string): ConfigProblem => ({
    severity,
    file,
    ...locate(path),
    key: keyOf(path),
    message,
  });

  const parsed = schema.safeParse(doc.toJS() ?? {});
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.flatMap((issue) => describeIssue(issue, doc, problem, schema)));
  }
  return { data: parsed.data, problem };
}

type MakeProblem = (severity: Severity, path: ConfigPath, message: string) => ConfigProblem;

function describeIssue(issue: z.core.$ZodIssue, doc: Document, problem: MakeProblem, root: z.ZodType): ConfigProblem[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  switch (issue.code) {
    case 'unrecognized_keys': {
      const valid = validKeysAt(root, path);
      const hint = valid.length > 0 ? `; valid keys here: ${valid.join(', ')}` : '';
      // Point at each unknown key itself, not at the map that holds it.
      return issue.keys.map((k) => problem('error', [...path, k], `unknown key "${k}"${hint}`));
    }
    case 'invalid_type': {
      const present = nodeAt(doc, path).exact;
      const message = present
        ? `expected ${issue.expected}, got ${describeValue(doc.getIn(path))}`
        : `required ${issue.expected} is missing`;
      return [problem('error', path, message)];
    }
    case 'invalid_value':
      return [
        problem(
          'error',
          path,
          `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describeValue(doc.getIn(path))}`,
        ),
      ];
    case 'invalid_union':
      if (path[path.length - 1] === 'varnish') return [problem('error', path, 'expected a VCL expression string, {vcl: …} or {ncsa: …}')];
      break;
  }
  return [problem('error', path, `${issue.message} (got ${describeValue(doc.getIn(path))})`)];
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (isNode(value)) return describeValue((value as Node).toJSON());
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'a mapping';
  return JSON.stringify(value);
}

/**
 * Where `path` points in the YAML: a key's own node (its line is where the user looks), a list
 * item, or — when the path does not exist — the nearest ancestor, with `exact` false.
 */
function nodeAt(doc: Document, path: ConfigPath): { node: Node | undefined; exact: boolean } {
  let node: unknown = doc.contents;
  let nearest = isNode(node) ? node : undefined;
  for (const [i, part] of path.entries()) {
    if (isMap(node) && typeof part === 'string') {
      const pair = node.items.find((item) => isScalar(item.key) && item.key.value === part);
      if (!pair) return { node: nearest, exact: false };
      if (i === path.length - 1) return { node: pair.key as Node, exact: true };
      node = pair.value;
    } else if (isSeq(node) && typeof part === 'number' && part < node.items.length) {
      node = node.items[part];
    } else {
      return { node: nearest, exact: false };
    }
    if (isNode(node)) nearest = node;
  }
  return { node: nearest, exact: true };
}

/** Keys the schema accepts at a path, for "did you mean" help on unknown keys. */
function validKeysAt(root: z.ZodType, path: ConfigPath): string[] {
  let schema: z.ZodType = root;
  for (const part of path) {
    const unwrapped = unwrap(schema);
    if (typeof part === 'number' && 'element' in unwrapped) schema = (unwrapped as z.ZodArray).element as z.ZodType;
    else if (typeof part === 'string' && 'shape' in unwrapped) schema = (unwrapped as z.ZodObject).shape[part] as z.ZodType;
    else return [];
    if (!schema) return [];
  }
  const last = unwrap(schema);
  return 'shape' in last ? Object.keys((last as z.ZodObject).shape) : [];
}

function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (;;) {
    const def = (current as unknown as { def: { innerType?: z.ZodType } }).def;
    if (!def.innerType) return current;
    current = def.innerType;
  }
}

import { readFile } from 'node:fs/promises';
import yaml from 'js-yaml';
import type { z } from 'zod';
import { normalizeConfig } from './normalize.js';
import { pathKey, positionOf, yamlPositions, type Positions } from './positions.js';
import { configSchema, type Config } from './schema.js';

/** A config file that cannot be used: one line per problem, each naming the file and the key path. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

export const DEFAULT_CONFIG_FILE = 'providers.yaml';

export function resolveConfigPath(cliPath: string | undefined, env: NodeJS.ProcessEnv): string {
  return cliPath ?? env.BALANCER_CONFIG ?? DEFAULT_CONFIG_FILE;
}

/** Reads, parses and validates a config file. Throws ConfigError; never returns a partial config. */
export async function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(file, [`${file}: cannot read the config file (${code ?? (err as Error).message})`]);
  }
  return parseConfig(text, file, env);
}

export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): Config {
  let raw: unknown;
  try {
    raw = yaml.load(text, { filename: file });
  } catch (err) {
    if (err instanceof yaml.YAMLException) {
      const { line, column } = err.mark;
      throw new ConfigError(file, [`${file}:${line + 1}:${column + 1}: YAML syntax error: ${err.reason}`]);
    }
    throw err;
  }
  if (raw === undefined || raw === null) raw = {};

  const positions = yamlPositions(text);
  const problems: Problem[] = [];
  const substituted = substituteEnv(raw, [], env, (path, name) => problems.push({ path, message: `environment variable ${name} is not set` }));
  if (problems.length) throw new ConfigError(file, formatProblems(file, problems, positions));

  const normalized = normalizeConfig(substituted, configSchema);
  problems.push(...normalized.problems);
  const result = configSchema.safeParse(normalized.value);
  if (!result.success) {
    for (const issue of result.error.issues) {
      if (normalized.reported.has(pathKey(issue.path))) continue;
      problems.push(...issueProblems(issue, normalized.value));
    }
  }
  if (problems.length || !result.success) throw new ConfigError(file, formatProblems(file, problems, positions));
  return result.data;
}

interface Problem {
  path: PropertyKey[];
  message: string;
}

/** One line per problem, in file order, each with the line and column where it is (or belongs). */
function formatProblems(file: string, problems: Problem[], positions: Positions): string[] {
  return problems
    .map((p, i) => ({ ...p, i, at: positionOf(positions, p.path) }))
    .sort((a, b) => (a.at?.offset ?? -1) - (b.at?.offset ?? -1) || a.i - b.i)
    .map(({ path, message, at }) => `${file}${at ? `:${at.line}:${at.column}` : ''}: ${formatPath(path)}: ${message}`);
}

/** `${NAME}` in any string value is replaced by the environment variable NAME. */
function substituteEnv(
  value: unknown,
  path: PropertyKey[],
  env: NodeJS.ProcessEnv,
  missing: (path: PropertyKey[], name: string) => void,
): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const v = env[name];
      if (v === undefined) {
        missing(path, name);
        return '';
      }
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, [...path, i], env, missing));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, substituteEnv(v, [...path, k], env, missing)]),
    );
  }
  return value;
}

function issueProblems(issue: z.core.$ZodIssue, input: unknown): Problem[] {
  const path = issue.path as PropertyKey[];
  if (issue.code === 'unrecognized_keys') return issue.keys.map((k) => ({ path: [...path, k], message: 'unknown key' }));
  // A key that is not there is "required", whatever the type of its value would have been.
  if (issue.code !== 'custom' && valueAt(input, path) === undefined) return [{ path, message: 'required' }];
  return [{ path, message: issue.message }];
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let current = value;
  for (const segment of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[segment];
  }
  return current;
}

export function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(top level)';
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}

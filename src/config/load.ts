import { readFile } from 'node:fs/promises';
import yaml from 'js-yaml';
import type { z } from 'zod';
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

  const problems: string[] = [];
  const substituted = substituteEnv(raw, [], env, (path, name) =>
    problems.push(`${file}: ${formatPath(path)}: environment variable ${name} is not set`),
  );
  if (problems.length) throw new ConfigError(file, problems);

  const result = configSchema.safeParse(substituted);
  if (!result.success) throw new ConfigError(file, result.error.issues.flatMap((i) => formatIssue(file, i)));
  return result.data;
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

function formatIssue(file: string, issue: z.core.$ZodIssue): string[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => `${file}: ${formatPath([...issue.path, k])}: unknown key`);
  }
  let message = issue.message;
  if (issue.code === 'invalid_type' && /received undefined/.test(message)) message = 'required';
  return [`${file}: ${formatPath(issue.path)}: ${message}`];
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

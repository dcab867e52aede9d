import { realpathSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The program name of package.json's `bin`: what `npm link` / `npm install -g .` put on PATH. */
export const CLI_NAME = 'claude-code-balancer';

/** This install's CLI entry point: dist/cli.js of the package root (two levels above this file in src/ and dist/ alike). */
export const CLI_PATH = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

/** A word the shell passes through unchanged, else single-quoted. */
export function shellWord(word: string): string {
  return /^[\w./:@%+=,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export interface CliLocation {
  /** Absolute path of this install's dist/cli.js. */
  cliPath: string;
  /** The PATH to look the bare name up in. */
  pathEnv: string | undefined;
  /** realpath of an existing file, or null when there is none. */
  resolveExecutable: (file: string) => string | null;
  /** realpath of any file (the entry point itself need not be executable). */
  resolve?: (file: string) => string;
}

/**
 * How a user runs this CLI from any folder: the bare name when PATH leads to this very install
 * (after `npm link`), else `node /abs/path/dist/cli.js`. Never `npx`: outside the checkout it
 * would fetch whatever package of that name the registry serves.
 */
export function cliInvocation({ cliPath, pathEnv, resolveExecutable, resolve = (f) => f }: CliLocation): string {
  const target = resolve(cliPath);
  for (const dir of (pathEnv ?? '').split(delimiter)) {
    if (!dir) continue;
    const found = resolveExecutable(join(dir, CLI_NAME));
    if (found === null) continue;
    // The first one on PATH is what the shell runs: only this install's CLI will do.
    return found === target ? CLI_NAME : `node ${shellWord(cliPath)}`;
  }
  return `node ${shellWord(cliPath)}`;
}

// Existence is enough: what leads to this install's dist/cli.js was put there by npm, executable.
function realExecutable(file: string): string | null {
  try {
    return realpathSync(file);
  } catch {
    return null;
  }
}

function realPath(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return file;
  }
}

let cached: string | undefined;

/** The command line of a subcommand as this machine's user can run it anywhere, e.g. `node /opt/ccb/dist/cli.js login`. */
export function cliCommand(subcommand: string): string {
  cached ??= cliInvocation({ cliPath: CLI_PATH, pathEnv: process.env.PATH, resolveExecutable: realExecutable, resolve: realPath });
  return `${cached} ${subcommand}`;
}

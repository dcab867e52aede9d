import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

/** `$XDG_DATA_HOME/claude-code-balancer`, else `~/.local/share/claude-code-balancer`. */
export function dataDirectory(env: NodeJS.ProcessEnv = process.env): string {
  // The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored.
  const xdg = env.XDG_DATA_HOME;
  const dataHome = xdg && isAbsolute(xdg) ? xdg : join(env.HOME || homedir(), '.local', 'share');
  return join(dataHome, 'claude-code-balancer');
}

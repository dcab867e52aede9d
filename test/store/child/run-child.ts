import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildOp, ChildResult } from './store-child.js';

const script = fileURLToPath(new URL('./store-child.ts', import.meta.url));
const hooks = fileURLToPath(new URL('./register.mjs', import.meta.url));

/**
 * Runs `ops` in a fresh Node process with exactly `env`, and resolves with its results as soon as
 * it prints them; rejects if it dies first (e.g. a crash in keytar). A child whose keytar call
 * timed out cannot exit by itself (libuv joins its thread pool at exit, and that thread is stuck
 * in libsecret), so it is killed once it has answered.
 */
export function runStoreChild(env: NodeJS.ProcessEnv, ops: ChildOp[], timeoutMs = 15_000): Promise<ChildResult[]> {
  const child = spawn(process.execPath, ['--import', hooks, script, JSON.stringify(ops)], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise<ChildResult[]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`store child gave no answer within ${timeoutMs} ms: ${stderr}`)), timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (!stdout.endsWith('\n')) return;
      clearTimeout(timer);
      resolve(JSON.parse(stdout.trim().split('\n').pop()!) as ChildResult[]);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`store child exited (${code ?? signal}) without an answer: ${stderr}`));
    });
  }).finally(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
}

import { randomBytes } from 'node:crypto';
import { readFileSync, unlinkSync } from 'node:fs';
import { chmod, link, mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { StoreError } from './token-store.js';

/** What a lock file holds: enough to tell whether its owner still runs. */
export interface LockOwner {
  pid: number;
  host: string;
  /** /proc/<pid>/stat start time (Linux), so that a recycled pid is not taken for the owner. */
  start: string | null;
  since: string;
  nonce: string;
}

/** Paths locked by this process: a second store on the same path in one process is refused too. */
const heldHere = new Map<string, StoreLock>();

/**
 * One writer per store: an exclusive lock file (O_EXCL) holding the owner's pid, host and start
 * time. A lock whose owner is dead (kill -9, power loss) is taken over at once; there is no
 * mtime heartbeat that a laptop's suspend or a paused debugger could let go stale under a live
 * owner, as with mtime-based locks. The owner of a lock written on another host cannot be
 * checked, so such a lock is never taken over.
 */
export class StoreLock {
  private released = false;
  private readonly onExit = () => this.releaseSync();

  private constructor(
    readonly path: string,
    readonly owner: LockOwner,
  ) {
    process.once('exit', this.onExit);
  }

  /**
   * Takes the lock at `path` for `what` (e.g. 'account file /x/accounts.json'), or throws
   * StoreError('in_use') naming the process that holds it and the way out.
   */
  static async acquire(path: string, what: string): Promise<StoreLock> {
    if (heldHere.has(path)) throw inUse(what, path, heldHere.get(path)!.owner);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const owner: LockOwner = {
      pid: process.pid,
      host: hostname(),
      start: processStart(process.pid),
      since: new Date().toISOString(),
      nonce: randomBytes(12).toString('hex'),
    };
    for (let attempt = 0; attempt < 20; attempt++) {
      if (await createExclusive(path, owner)) {
        const lock = new StoreLock(path, owner);
        heldHere.set(path, lock);
        return lock;
      }
      const holder = await readOwner(path);
      if (holder === 'missing') continue;
      if (holder === 'unreadable') {
        // Created a moment ago by a process that has not written its pid yet.
        await sleep(25);
        if ((await readOwner(path)) === 'unreadable') await takeOver(path, null);
        continue;
      }
      if (isAlive(holder)) throw inUse(what, path, holder);
      await takeOver(path, holder.nonce);
    }
    throw new StoreError('in_use', `could not take the lock ${path} for ${what}: other processes keep taking it`);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    process.off('exit', this.onExit);
    heldHere.delete(this.path);
    const holder = await readOwner(this.path);
    // Only our own lock: never one another process took over.
    if (typeof holder === 'object' && holder.nonce === this.owner.nonce) await unlink(this.path).catch(() => undefined);
  }

  private releaseSync(): void {
    if (this.released) return;
    this.released = true;
    heldHere.delete(this.path);
    try {
      const holder = parseOwner(readFileSync(this.path, 'utf8'));
      if (holder && holder.nonce === this.owner.nonce) unlinkSync(this.path);
    } catch {
      // Already gone.
    }
  }
}

async function createExclusive(path: string, owner: LockOwner): Promise<boolean> {
  let file;
  try {
    file = await open(path, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new StoreError('unavailable', `cannot create the lock file ${path}: ${(err as Error).message}`);
  }
  try {
    await file.writeFile(`${JSON.stringify(owner)}\n`, 'utf8');
  } finally {
    await file.close();
  }
  await chmod(path, 0o600).catch(() => undefined);
  return true;
}

/**
 * Removes a dead owner's lock. The lock is first renamed to a private name, then checked to be
 * the one found dead: of two processes taking over at once, the second finds the first one's
 * fresh lock, puts it back and then sees a live owner.
 */
async function takeOver(path: string, deadNonce: string | null): Promise<void> {
  const aside = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.stale`;
  try {
    await rename(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new StoreError('unavailable', `cannot take over the stale lock ${path}: ${(err as Error).message}`);
  }
  const moved = parseOwner(await readFile(aside, 'utf8').catch(() => ''));
  if ((moved?.nonce ?? null) !== deadNonce) {
    // Someone else's fresh lock: put it back (unless yet another process created one meanwhile).
    await link(aside, path).catch(() => undefined);
  }
  await unlink(aside).catch(() => undefined);
}

async function readOwner(path: string): Promise<LockOwner | 'missing' | 'unreadable'> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw new StoreError('unavailable', `cannot read the lock file ${path}: ${(err as Error).message}`);
  }
  return parseOwner(text) ?? 'unreadable';
}

function parseOwner(text: string): LockOwner | null {
  try {
    const data = JSON.parse(text) as Partial<LockOwner>;
    if (typeof data.pid !== 'number' || typeof data.host !== 'string' || typeof data.nonce !== 'string') return null;
    return { pid: data.pid, host: data.host, start: data.start ?? null, since: String(data.since ?? ''), nonce: data.nonce };
  } catch {
    return null;
  }
}

function isAlive(owner: LockOwner): boolean {
  if (owner.host !== hostname()) return true;
  // In a container the service is often pid 1 on every start: a lock naming our own pid is a
  // previous life's (a lock this process holds was refused above).
  if (owner.pid === process.pid) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const start = processStart(owner.pid);
  return !(owner.start && start && start !== owner.start);
}

/** The start time of a process in clock ticks since boot (Linux), else null. */
function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (the command) may hold spaces and parentheses; the fields after it do not.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function inUse(what: string, lockPath: string, holder: LockOwner): StoreError {
  const here = holder.host === hostname();
  const who = here
    ? `pid ${holder.pid}${holder.pid === process.pid ? ', this process' : ''}`
    : `pid ${holder.pid} on host ${holder.host}`;
  const stop = here ? `stop the other service (kill ${holder.pid})` : `stop the other service on ${holder.host}`;
  return new StoreError(
    'in_use',
    `${what} is in use by another claude-code-balancer (${who}, since ${holder.since}; lock ${lockPath}). ` +
      'A file or keyring store has one writer: two services on it would refresh with the same single-use ' +
      `refresh tokens and overwrite each other's records. Either ${stop} and start this one again, or, to run ` +
      'several instances on one pool, set settings.oauth.store: redis (README: "Running several instances").' +
      (here ? '' : ` If that process is gone, delete ${lockPath}.`),
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

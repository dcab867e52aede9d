import { randomBytes } from 'node:crypto';
import { open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

const tempName = (target: string) => `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;

/**
 * Replaces `target` with `data` so that a crash at any point leaves either the old or the new
 * content, never a mix: temp file in the same directory, fsync, rename over, fsync the directory.
 */
export async function writeFileAtomic(target: string, data: string, mode = 0o600): Promise<void> {
  const dir = dirname(target);
  const temp = join(dir, tempName(target));
  try {
    const file = await open(temp, 'wx', mode);
    try {
      await file.writeFile(data, 'utf8');
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, target);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await fsyncDirectory(dir);
}

/** Makes the rename itself durable. */
async function fsyncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    // Windows cannot open or fsync a directory; its rename is durable on its own.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL') throw err;
  } finally {
    await handle?.close();
  }
}

/**
 * Deletes temp files that writeFileAtomic() left next to `target` when its process died mid-write
 * (they may hold secrets). Temp files of live processes are kept: they may be writing right now.
 */
export async function removeStaleTempFiles(target: string): Promise<void> {
  const dir = dirname(target);
  const prefix = `.${basename(target)}.`;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const pid = Number(name.slice(prefix.length).split('.')[0]);
    if (Number.isInteger(pid) && pid > 0 && !isAlive(pid)) await unlink(join(dir, name)).catch(() => undefined);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

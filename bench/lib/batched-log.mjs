// The access log of the bench's floor relays: lines written in batches of 4 KB or every 100 ms
// (one write per line would cost a thread-pool round trip each; the service batches its log the
// same way, and nginx buffers its own).
import { closeSync, openSync, write, writeSync } from 'node:fs';

export function batchedLog(path) {
  const fd = openSync(path, 'a');
  let pending = '';
  let timer = null;
  const flush = () => {
    timer = null;
    if (!pending) return;
    write(fd, pending, () => {});
    pending = '';
  };
  return {
    line(text) {
      pending += text;
      if (pending.length >= 4096) flush();
      else timer ??= setTimeout(flush, 100).unref();
    },
    close() {
      writeSync(fd, pending);
      closeSync(fd);
    },
  };
}

/**
 * Reusable buffers for large request bodies. A Claude Code request is 100 KB or more, held until
 * its response is over; allocating a fresh ArrayBuffer for each one makes V8 count that much new
 * external memory per request, which at a few thousand requests a second triggers full garbage
 * collections on V8's helper threads (measured: about 40 % of the service's CPU per 140 KB
 * request). Buffers of a few size classes are kept and handed out again instead.
 *
 * A buffer goes back only when the response of its request is over (the body may be sent again
 * on failover until then), and the pool keeps at most POOLED_BYTES.
 */
const MIN_POOLED = 32 * 1024;
const MAX_POOLED = 1024 * 1024;
const POOLED_BYTES = 16 * 1024 * 1024;

/** The size class of a body: the next power of two from MIN_POOLED, or undefined when not pooled. */
function sizeClass(length: number): number | undefined {
  if (length < MIN_POOLED || length > MAX_POOLED) return undefined;
  let size = MIN_POOLED;
  while (size < length) size *= 2;
  return size;
}

export class BodyBuffers {
  private readonly free = new Map<number, Buffer[]>();
  private pooled = 0;

  /** A buffer of at least `length` bytes (its contents are old bytes: the caller fills it). */
  take(length: number): Buffer {
    const size = sizeClass(length);
    if (size === undefined) return Buffer.allocUnsafe(length);
    const buffer = this.free.get(size)?.pop();
    if (buffer) {
      this.pooled -= size;
      return buffer;
    }
    return Buffer.allocUnsafeSlow(size);
  }

  /** Gives back a buffer from take(); nothing may use it afterwards. */
  give(buffer: Buffer): void {
    const size = buffer.byteLength;
    if (sizeClass(size) !== size || buffer.byteOffset !== 0 || this.pooled + size > POOLED_BYTES) return;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(buffer);
    this.pooled += size;
  }
}

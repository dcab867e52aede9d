/**
 * The request bytes the service holds at once (settings.max_inflight_body_bytes). A body is held
 * from its first byte until its response is over (it is sent again on failover), so without a cap
 * enough large bodies at once, or a slow upstream under them, grow memory until the process dies.
 *
 * A body with a Content-Length takes its whole length when it starts (it will arrive, and the
 * answer is better given before the bytes are read); a chunked body takes each chunk as it comes.
 * The last SMALL_RESERVE_FRACTION of the cap is kept for bodies of at most SMALL_BODY_BYTES, so
 * while large bodies fill the rest an ordinary request still gets through.
 */
export const SMALL_BODY_BYTES = 1024 * 1024;
export const SMALL_RESERVE_FRACTION = 1 / 16;

export class InflightBodies {
  private held = 0;

  constructor(private readonly limit: () => number) {}

  /** Bytes held now. */
  get bytes(): number {
    return this.held;
  }

  /**
   * Takes `bytes` for a body that will be `bodySize` bytes long in all (its Content-Length, or
   * what has arrived so far when chunked). False, and nothing taken, when that would pass the cap.
   */
  take(bytes: number, bodySize: number): boolean {
    const cap = this.limit();
    const room = bodySize <= SMALL_BODY_BYTES ? cap : cap - Math.floor(cap * SMALL_RESERVE_FRACTION);
    if (this.held + bytes > room) return false;
    this.held += bytes;
    return true;
  }

  release(bytes: number): void {
    this.held -= bytes;
  }
}

/**
 * Runs `write` one at a time. Requests that arrive while a write runs share one follow-up write,
 * which starts after it and so persists the latest state: a burst of saves costs two writes, and
 * a write never overtakes an older one.
 */
export class CoalescingWriter {
  private running: Promise<void> | null = null;
  private queued: Promise<void> | null = null;

  constructor(private readonly write: () => Promise<void>) {}

  /** Resolves once a write that started after this call has completed; rejects if that write fails. */
  request(): Promise<void> {
    if (this.queued) return this.queued;
    if (!this.running) return this.start();
    this.queued = this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = null;
        return this.start();
      });
    return this.queued;
  }

  /** Resolves when no write is running or queued. */
  async idle(): Promise<void> {
    for (let p = this.queued ?? this.running; p; p = this.queued ?? this.running) {
      await p.catch(() => undefined);
    }
  }

  private start(): Promise<void> {
    const run: Promise<void> = this.write().finally(() => {
      if (this.running === run) this.running = null;
    });
    this.running = run;
    return run;
  }
}

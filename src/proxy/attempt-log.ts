import type { Logger } from '../logging/logger.js';
import type { AttemptVerdict } from '../providers/credentials.js';
import { pathOnly } from './request-target.js';

/** What the debug line of one upstream attempt says; never a header, a query string or a body. */
export interface AttemptLogLine {
  req_id: string | undefined;
  provider: string;
  /** The credential's label (the account email, or "client" for passthrough); absent for a fixed key. */
  account: string | undefined;
  /** The upstream path, without its query string. */
  path: string;
  /** The upstream's status, when a response head came. */
  status?: number;
  /** What failed, when the attempt ended without a usable response (describeNetworkError). */
  error?: string;
  verdict: AttemptVerdict;
  /** From the dispatch to the upstream's answer: its head and error body, the first body byte of a delivered one, or the failure. */
  duration_ms: number;
}

/**
 * Times and logs the upstream attempts of one request at debug level. Only made when debug is
 * enabled (`forDebug`), so at info the hot path builds no object.
 */
export class AttemptLog {
  private started = 0;
  private answeredAt = 0;

  private constructor(
    private readonly log: Logger,
    private readonly reqId: string | undefined,
  ) {}

  static forDebug(log: Logger, reqId: string | undefined): AttemptLog | undefined {
    return log.isLevelEnabled('debug') ? new AttemptLog(log, reqId) : undefined;
  }

  start(): void {
    this.started = performance.now();
  }

  /** The upstream has had its say; what the credential layer does with it next (a refresh after a 401) is not its time. */
  answered(): void {
    this.answeredAt = performance.now();
  }

  /** Positional, so that a call at info level allocates nothing. `target` may carry a query string; it is cut off here. */
  end(provider: string, account: string | undefined, target: string, verdict: AttemptVerdict, status?: number, error?: string): void {
    const line: AttemptLogLine = {
      req_id: this.reqId,
      provider,
      account,
      path: pathOnly(target),
      status,
      error,
      verdict,
      duration_ms: Math.round((this.answeredAt - this.started) * 10) / 10,
    };
    this.log.debug(line, 'upstream attempt');
  }
}

import type { Logger } from '../logging/logger.js';
import type { Account } from './account.js';

/**
 * What started a refresh: its timer, a request finding the token inside the lead window, an
 * upstream refusing the token, or a direct call (the admin API's refresh).
 */
export type RefreshTrigger = 'timer' | 'expiring' | 'refused' | 'requested';

const ms = (since: number) => Math.round((performance.now() - since) * 10) / 10;

/**
 * The debug lines of a refresh's steps (started, refresh right taken, token endpoint answered,
 * new tokens persisted, failed); "token refreshed" at info ends a good one. Account emails,
 * statuses and error reasons only: never a token. Positional arguments, so nothing is built
 * unless debug is on.
 */
export class RefreshLog {
  constructor(private readonly log: Logger) {}

  started(account: Account, trigger: RefreshTrigger): void {
    if (this.log.isLevelEnabled('debug')) this.log.debug({ account: account.email, trigger }, 'refresh started');
  }

  /** `since`: performance.now() when the right was asked for. */
  rightTaken(account: Account, since: number): void {
    if (this.log.isLevelEnabled('debug')) this.log.debug({ account: account.email, waited_ms: ms(since) }, 'refresh right taken');
  }

  /** Another instance refreshed while this one waited for the right; its tokens are used. */
  handedOver(account: Account): void {
    if (this.log.isLevelEnabled('debug')) this.log.debug({ account: account.email }, 'refresh done elsewhere; using its tokens');
  }

  /** `status` undefined: no answer (`error` says why). `since`: performance.now() when the call was made. */
  answered(account: Account, status: number | undefined, since: number, error?: string): void {
    if (!this.log.isLevelEnabled('debug')) return;
    this.log.debug({ account: account.email, status, error, duration_ms: ms(since) }, 'token endpoint answered');
  }

  /** The new tokens are in the store; `rotated`: the endpoint sent a new refresh token. */
  persisted(account: Account, rotated: boolean): void {
    if (this.log.isLevelEnabled('debug')) this.log.debug({ account: account.email, rotated }, 'new tokens persisted');
  }

  failed(account: Account, reason: string): void {
    if (this.log.isLevelEnabled('debug')) this.log.debug({ account: account.email, reason }, 'refresh failed');
  }
}

import type { Logger } from '../logging/logger.js';
import type { PoolEvents } from './pool-events.js';

/** The console's view of the pool: one log line per event that changes what the pool can do. */
export function logPoolEvents(events: PoolEvents, log: Logger): void {
  events.on('needs_login', (e) => log.warn({ account: e.account, reason: e.reason }, 'account needs a new login'));
  events.on('banned', (e) => log.warn({ account: e.account, reason: e.reason }, 'account taken out of rotation: banned'));
  events.on('rate_limited', (e) =>
    log.info({ account: e.account, until: e.until === undefined ? undefined : new Date(e.until).toISOString() }, 'account rate limited'),
  );
  events.on('recovered', (e) => log.info({ account: e.account }, 'account serving again'));
  events.on('account_removed', (e) => log.info({ account: e.account }, 'account removed'));
}

import type { OAuthSettings } from '../../config/schema.js';
import { FillSelector } from './fill.js';
import { RoundRobinSelector } from './round-robin.js';
import type { Selector } from './selector.js';
import { SessionSelector } from './session.js';

export type SchedulingStrategy = OAuthSettings['strategy'];

/** The selection policy settings.oauth.strategy names. */
export function createSelector(settings: Pick<OAuthSettings, 'strategy' | 'fill_threshold'>): Selector {
  switch (settings.strategy) {
    case 'session':
      return new SessionSelector();
    case 'round_robin':
      return new RoundRobinSelector();
    case 'fill':
      return new FillSelector(settings.fill_threshold);
  }
}

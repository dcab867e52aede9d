// Issue 12: the selection policies behind one Selector interface, each pinned by a table of
// candidates (login order, 5-hour utilization) and the order it must give.
import { describe, expect, it } from 'vitest';
import { Account } from '../../src/oauth/account.js';
import { FillSelector } from '../../src/oauth/selection/fill.js';
import { createSelector } from '../../src/oauth/selection/index.js';
import { RoundRobinSelector } from '../../src/oauth/selection/round-robin.js';
import { PIN_IDLE_MS, SessionSelector } from '../../src/oauth/selection/session.js';
import type { Selector } from '../../src/oauth/selection/selector.js';
import { account as record } from '../store/accounts.js';

const NOW = Date.UTC(2026, 5, 1, 12);

/** Accounts a, b, c, ... in login order with the given 5-hour utilization (null: none reported). */
function accounts(...utilization: Array<number | null>): Account[] {
  return utilization.map(
    (u, i) =>
      new Account(
        record(`${String.fromCharCode(97 + i)}@example.com`, {
          utilization_5h: u === null ? null : { utilization: u, resets_at: NOW + 3_600_000 },
        }),
        i,
      ),
  );
}

const names = (list: Account[]) => list.map((a) => a.email[0]).join('');
const pick = (s: Selector, c: Account[], sessionId?: string, now = NOW) => names(s.select(c, { sessionId, now }));

describe('round_robin', () => {
  it.each([
    { utilization: [null, null, null], picks: ['abc', 'bca', 'cab', 'abc'] },
    { utilization: [0.9, 0.1, 0.5], picks: ['abc', 'bca', 'cab', 'abc'] },
    { utilization: [null], picks: ['a', 'a'] },
  ])('rotates in login order whatever the utilization: $utilization', ({ utilization, picks }) => {
    const selector: Selector = new RoundRobinSelector();
    const candidates = accounts(...utilization);
    expect(picks.map(() => pick(selector, candidates, 'same-session'))).toEqual(picks);
  });

  it('goes on after the last chosen one when some are not candidates', () => {
    const selector: Selector = new RoundRobinSelector();
    const [a, b, c] = accounts(null, null, null);
    expect(names(selector.select([a, b, c], { sessionId: undefined, now: NOW }))).toBe('abc');
    expect(names(selector.select([a, c], { sessionId: undefined, now: NOW }))).toBe('ca');
    expect(names(selector.select([a, b, c], { sessionId: undefined, now: NOW }))).toBe('abc');
  });
});

describe('session', () => {
  it.each([
    { utilization: [0.5, 0.2, 0.9], first: 'bac' },
    { utilization: [null, 0.2, null], first: 'acb' },
    { utilization: [0.3, 0.3, 0.1], first: 'cab' },
  ])('puts a new conversation on the lowest 5-hour utilization: $utilization -> $first', ({ utilization, first }) => {
    expect(pick(new SessionSelector(), accounts(...utilization), 'new')).toBe(first);
  });

  it('keeps a conversation on its account while it is a candidate, even when others are less used', () => {
    const selector = new SessionSelector();
    const [a, b, c] = accounts(0.1, 0.5, 0.9);
    expect(names(selector.select([a, b, c], { sessionId: 's', now: NOW }))).toBe('abc');
    a.record.utilization_5h = { utilization: 0.99, resets_at: NOW + 3_600_000 };
    expect(names(selector.select([a, b, c], { sessionId: 's', now: NOW }))).toBe('abc');
    // Not a candidate (limited, say): the conversation moves, and stays on its new account.
    expect(names(selector.select([b, c], { sessionId: 's', now: NOW }))).toBe('bc');
    expect(names(selector.select([a, b, c], { sessionId: 's', now: NOW }))[0]).toBe('b');
  });

  it('forgets a conversation idle for an hour', () => {
    const selector = new SessionSelector();
    const [a, b] = accounts(0.1, 0.5);
    expect(pick(selector, [a, b], 's')).toBe('ab');
    a.record.utilization_5h = { utilization: 0.9, resets_at: NOW + 2 * PIN_IDLE_MS };
    expect(pick(selector, [a, b], 's', NOW + PIN_IDLE_MS)).toBe('ba');
  });

  it('rotates requests without a conversation', () => {
    const selector = new SessionSelector();
    const candidates = accounts(0.9, 0.1, 0.5);
    expect([1, 2, 3].map(() => pick(selector, candidates))).toEqual(['abc', 'bca', 'cab']);
    expect(selector.pinCount).toBe(0);
  });
});

describe('fill', () => {
  it.each([
    { utilization: [null, null, null], order: 'abc' },
    { utilization: [0.5, 0.1, 0.0], order: 'abc' },
    { utilization: [0.95, 0.1, 0.0], order: 'abc' },
    { utilization: [0.96, 0.1, 0.0], order: 'bca' },
    { utilization: [0.99, 0.97, 0.2], order: 'cba' },
    { utilization: [0.99, 0.97, 0.98], order: 'bca' },
  ])('stays on the first account until it passes 0.95: $utilization -> $order', ({ utilization, order }) => {
    const selector = new FillSelector(0.95);
    const candidates = accounts(...utilization);
    expect(pick(selector, candidates)).toBe(order);
    expect(pick(selector, candidates, 'any-session')).toBe(order);
  });

  it('counts a utilization whose window has reset as 0', () => {
    const [a, b] = accounts(0.99, 0.1);
    a.record.utilization_5h = { utilization: 0.99, resets_at: NOW - 1 };
    expect(pick(new FillSelector(0.95), [a, b])).toBe('ab');
  });

  it('takes its threshold from settings.oauth.fill_threshold', () => {
    const candidates = accounts(0.6, 0.1);
    expect(pick(createSelector({ strategy: 'fill', fill_threshold: 0.5 }), candidates)).toBe('ba');
    expect(pick(createSelector({ strategy: 'fill', fill_threshold: 0.7 }), candidates)).toBe('ab');
  });
});

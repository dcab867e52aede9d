/** Time as the account pool sees it; tests substitute a fake clock to drive refresh schedules. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Node's setTimeout overflows past 2^31-1 ms and fires at once; long waits are chained. */
const MAX_TIMEOUT = 2_147_483_647;

interface ChainedTimeout {
  current: NodeJS.Timeout;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const due = Date.now() + Math.max(ms, 0);
    const arm = (): NodeJS.Timeout => {
      const left = Math.max(due - Date.now(), 0);
      const handle = left > MAX_TIMEOUT ? setTimeout(() => (chain.current = arm()), MAX_TIMEOUT) : setTimeout(fn, left);
      handle.unref();
      return handle;
    };
    const chain: ChainedTimeout = { current: arm() };
    return chain;
  },
  clearTimeout: (handle) => clearTimeout((handle as ChainedTimeout).current),
};

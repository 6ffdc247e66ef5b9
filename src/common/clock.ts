/**
 * The one clock: every "now", timer and sleep of the engine, the watch and the lease goes through
 * it, so tests control time. `systemClock` is the real one.
 */

/** Time for the engine: now, and timers at an epoch ms. */
export interface Clock {
  /** Epoch ms. */
  now(): number;
  /** Calls `fn` at (or soon after) epoch ms `at`; the returned function cancels it. */
  setTimer(at: number, fn: () => void): () => void;
}

/** Time for waiting loops (the lease): now, and a sleep that ends early, without error, when `signal` aborts. */
export interface SleepClock {
  /** Epoch ms. */
  now(): number;
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

/**
 * The longest delay Node's setTimeout keeps: a longer one (a `timeout: 30d`, a 25-day wait)
 * would fire at once, with only a warning on stderr. Longer waits are chained in steps of it.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Calls `fn` at epoch ms `at` (per `now`), however far ahead; the returned function cancels it. */
function longTimer(at: number, fn: () => void, now: () => number = Date.now): () => void {
  let timer: ReturnType<typeof setTimeout>;
  const arm = (): void => {
    const left = at - now();
    timer = left > MAX_TIMER_MS ? setTimeout(arm, MAX_TIMER_MS) : setTimeout(fn, Math.max(0, left));
  };
  arm();
  return () => clearTimeout(timer);
}

/** Sleeps `ms`, or rejects with the signal's reason as soon as it aborts. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      cancel();
      reject(signal?.reason as Error);
    };
    const cancel = longTimer(Date.now() + ms, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The real clock. */
export const systemClock: Clock & SleepClock = {
  now: () => Date.now(),
  setTimer: (at, fn) => longTimer(at, fn),
  sleep: (ms, signal) => abortableSleep(ms, signal).catch(() => {}),
};

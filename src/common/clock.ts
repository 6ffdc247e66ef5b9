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

/** Sleeps `ms`, or rejects with the signal's reason as soon as it aborts. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The real clock. */
export const systemClock: Clock & SleepClock = {
  now: () => Date.now(),
  setTimer(at, fn) {
    const t = setTimeout(fn, Math.max(0, at - Date.now()));
    return () => clearTimeout(t);
  },
  sleep: (ms, signal) => abortableSleep(ms, signal).catch(() => {}),
};

/** The one clock: every "now" and every timer of the engine goes through it, so tests control time. */

/** Time, behind an interface so tests can control it. */
export interface Clock {
  /** Epoch ms. */
  now(): number;
  /** Calls `fn` at (or soon after) epoch ms `at`; the returned function cancels it. */
  setTimer(at: number, fn: () => void): () => void;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(at, fn) {
    const t = setTimeout(fn, Math.max(0, at - Date.now()));
    return () => clearTimeout(t);
  },
};

/**
 * The one duration formatter of everything people read: the live log, the summary, the
 * annotations, the scheduler's reasons, the lease's and housekeeping's notes. (The spec's own
 * `formatDuration` in src/spec/duration.ts is the printer of its grammar, the inverse of
 * `parseDuration`, not a display.)
 */

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * `250` → `250ms`, `1500` → `1.5s`, `12000` → `12s`, `83000` → `1m 23s`, `180000` → `3m`,
 * `3_941_000` → `1h 5m 41s`, `2 days and 3 hours` → `2d 3h`. Under a minute, tenths of a second
 * show; from a minute on, whole seconds (rounded down), and units that are zero are left out.
 * Negative becomes 0.
 */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms));
  if (total < SECOND) return `${total}ms`;
  if (total < MINUTE) return `${Math.min(59.9, Math.floor(total / 100) / 10)}s`;
  const parts: string[] = [];
  let rest = total;
  for (const [unit, size] of [['d', DAY], ['h', HOUR], ['m', MINUTE], ['s', SECOND]] as const) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0) parts.push(`${n}${unit}`);
  }
  return parts.join(' ');
}

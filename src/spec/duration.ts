/**
 * Durations as users write them in a spec: `500ms`, `90s`, `3m`, `1h30m`, `1d`.
 *
 * Units are days, hours, minutes, seconds and milliseconds, each at most once and largest
 * first, like Go's time.ParseDuration without fractions. A bare number is rejected on purpose:
 * `timeout: 90` could mean seconds or minutes, and guessing wrong is a silent wrong result.
 */

/** The JSON Schema `pattern` of a duration string (same language as `parseDuration`). */
export const DURATION_PATTERN = '^(?=\\d)(\\d+d)?(\\d+h)?(\\d+m)?(\\d+s)?(\\d+ms)?$';

const UNIT_MS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };
const UNIT_ORDER = ['d', 'h', 'm', 's', 'ms'];

/**
 * The longest duration accepted: 3650 days. Anything longer is a typo (a run, a wait or a
 * retention of more than ten years), and the numbers past it stop being exact milliseconds and
 * valid dates.
 */
export const MAX_DURATION_MS = 3650 * 86_400_000;

/** The result of `parseDuration`: milliseconds, or why the text is not a duration. */
export type DurationResult = { ok: true; ms: number } | { ok: false; reason: string };

/** Parses a duration string like `1h30m` into milliseconds. Never throws. */
export function parseDuration(text: string): DurationResult {
  const trimmed = text.trim();
  if (trimmed === '') return { ok: false, reason: 'the duration is empty' };
  if (/^\d+(\.\d+)?$/.test(trimmed)) {
    return { ok: false, reason: `a bare number has no unit; write "${trimmed}s" for seconds or "${trimmed}m" for minutes` };
  }
  const part = /(\d+)(ms|d|h|m|s)/y;
  let ms = 0;
  let lastUnit = -1;
  let at = 0;
  while (at < trimmed.length) {
    part.lastIndex = at;
    const m = part.exec(trimmed);
    if (m === null) {
      return { ok: false, reason: 'units are d, h, m, s and ms, each after a whole number' };
    }
    const unit = UNIT_ORDER.indexOf(m[2]!);
    if (unit <= lastUnit) {
      return { ok: false, reason: 'each unit may appear once, largest first ("1h30m", not "30m1h")' };
    }
    lastUnit = unit;
    ms += Number(m[1]) * UNIT_MS[m[2]!]!;
    at = part.lastIndex;
  }
  if (!(ms <= MAX_DURATION_MS)) return { ok: false, reason: 'it is longer than 3650d, the longest duration accepted' };
  return { ok: true, ms };
}

/** Formats milliseconds back into the shortest duration string (`5400000` → `1h30m`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const unit of UNIT_ORDER) {
    const size = UNIT_MS[unit]!;
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}

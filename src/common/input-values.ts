/**
 * Numbers read from the action's inputs and from the CLI's flags, by the same rules, so that
 * `max-parallel: 1e3` and `--max-parallel 1e3` are refused alike. Each parser returns the value
 * or what was expected; the caller names the input or the flag in its message.
 */

/** The highest `api-qps` and `api-burst` taken (beyond them, `api-qps: 0` says what is meant). */
export const MAX_API_QPS = 10_000;
export const MAX_API_BURST = 100_000;

/**
 * A whole number as the inputs and the CLI's flags take it: digits only, at most `max`; else
 * `null`. No sign, decimals, exponent, hex or spaces: `Number()` would read `1e3` as 1000 and
 * `0x10` as 16 without a word.
 */
export function parseWholeNumber(raw: string, max = Number.MAX_SAFE_INTEGER): number | null {
  return /^\d+$/.test(raw) && Number(raw) <= max ? Number(raw) : null;
}

/** What a whole-number input or flag takes, for the message that refuses `raw`. */
export function wholeNumberExpected(raw: string, max = Number.MAX_SAFE_INTEGER): string {
  const bound = /^\d+$/.test(raw) || max < Number.MAX_SAFE_INTEGER ? ` and at most ${max.toLocaleString('en-US')}` : '';
  return `a whole number >= 0${bound}`;
}

/** A value read from an input or a flag, or what was expected instead (the caller names the input or flag). */
export type Parsed<T> = { ok: true; value: T } | { ok: false; expected: string };

/**
 * An `api-qps` value (the input, or the CLI's `--api-qps`): requests per second, `null` for
 * no client-side limit (`0`).
 */
export function parseApiQps(raw: string): Parsed<number | null> {
  // A rate: decimals are fine (0.5 is one request every 2 s); 0 turns the client's limit off.
  if (/^\d+(\.\d+)?$/.test(raw) && Number(raw) <= MAX_API_QPS) return { ok: true, value: Number(raw) === 0 ? null : Number(raw) };
  return {
    ok: false,
    expected: `requests per second, a number from 0 to ${MAX_API_QPS.toLocaleString('en-US')} (e.g. 50, or 0.5), or 0 to send without a client-side limit (the API server's priority and fairness then holds the action back)`,
  };
}

/** An `api-burst` value (the input, or the CLI's `--api-burst`); `qpsName` names the rate's input or flag. */
export function parseApiBurst(raw: string, qpsName: string): Parsed<number> {
  const burst = parseWholeNumber(raw, MAX_API_BURST);
  if (burst !== null && burst >= 1) return { ok: true, value: burst };
  return { ok: false, expected: `a whole number from 1 to ${MAX_API_BURST.toLocaleString('en-US')}: how many requests may go at once before ${qpsName} paces them` };
}

/** Duration strings. */
import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/spec/index.ts';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['90s', 90_000],
    ['3m', 180_000],
    ['1h30m', 5_400_000],
    ['1d', 86_400_000],
    ['1h0m5s250ms', 3_605_250],
    ['0s', 0],
  ])('%s = %i ms', (text, ms) => {
    expect(parseDuration(text)).toEqual({ ok: true, ms });
    expect(parseDuration(formatDuration(ms))).toEqual({ ok: true, ms });
  });

  it.each([
    ['90', 'a bare number has no unit; write "90s" for seconds or "90m" for minutes'],
    ['', 'the duration is empty'],
    ['3 minutes', 'units are d, h, m, s and ms, each after a whole number'],
    ['1.5h', 'units are d, h, m, s and ms, each after a whole number'],
    ['30m1h', 'each unit may appear once, largest first ("1h30m", not "30m1h")'],
  ])('rejects %j', (text, reason) => {
    expect(parseDuration(text)).toEqual({ ok: false, reason });
  });
});

/**
 * The real clock's timers keep delays past what Node's setTimeout holds (2^31-1 ms, 24.8 days):
 * a `timeout: 30d` on the DAG, a sensor waiting 30 days or a 25-day `concurrency-timeout` would
 * otherwise fire at once (Node replaces such a delay with 1 ms and only warns).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { abortableSleep, systemClock } from '../../src/common/clock.ts';

const DAY = 86_400_000;

describe('timers longer than 24.8 days', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('setTimer fires at the time asked, not at once', () => {
    const fired: number[] = [];
    systemClock.setTimer(30 * DAY, () => fired.push(Date.now()));
    vi.advanceTimersByTime(29 * DAY);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(DAY);
    expect(fired).toEqual([30 * DAY]);
  });

  it('setTimer can be cancelled after the first step of a long wait', () => {
    const fired: number[] = [];
    const cancel = systemClock.setTimer(60 * DAY, () => fired.push(Date.now()));
    vi.advanceTimersByTime(26 * DAY);
    cancel();
    vi.advanceTimersByTime(60 * DAY);
    expect(fired).toEqual([]);
  });

  it('a sleep of 30 days ends after 30 days, and an abort ends it at once', async () => {
    let ended = false;
    const done = abortableSleep(30 * DAY).then(() => (ended = true));
    await vi.advanceTimersByTimeAsync(29 * DAY);
    expect(ended).toBe(false);
    await vi.advanceTimersByTimeAsync(DAY);
    await done;
    expect(Date.now()).toBe(30 * DAY);

    const controller = new AbortController();
    const aborted = abortableSleep(30 * DAY, controller.signal);
    await vi.advanceTimersByTimeAsync(25 * DAY);
    controller.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
    expect(vi.getTimerCount()).toBe(0);
  });
});

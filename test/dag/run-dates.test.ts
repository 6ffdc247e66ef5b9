/** The run context: logical date and data interval from a schedule, an input or the start; backfill dates. */
import { describe, expect, it } from 'vitest';
import { backfillDates, RunDateError, runDates } from '../../src/dag/run-dates.ts';

const at = (iso: string) => Date.parse(iso);

describe('runDates', () => {
  it('a scheduled run that started late covers the interval ending at the last fire', () => {
    // GitHub fired the 02:00 schedule; the run started at 02:07.
    expect(runDates({ start: at('2026-12-03T02:07:31Z'), schedule: '0 2 * * *', logicalDate: null })).toEqual({
      date: '2026-12-03',
      dateNodash: '20261203',
      ts: '2026-12-03T02:00:00Z',
      intervalStart: '2026-12-02T02:00:00Z',
      intervalStartDate: '2026-12-02',
      intervalEnd: '2026-12-03T02:00:00Z',
      intervalEndDate: '2026-12-03',
      source: 'schedule',
      schedule: '0 2 * * *',
    });
  });

  it('a run starting exactly at a fire time takes that fire ("at or before")', () => {
    expect(runDates({ start: at('2026-12-03T02:00:00Z'), schedule: '0 2 * * *', logicalDate: null }).ts).toBe('2026-12-03T02:00:00Z');
  });

  it('an hourly schedule: the interval is the hour before', () => {
    const d = runDates({ start: at('2026-12-03T10:59:59Z'), schedule: '0 * * * *', logicalDate: null });
    expect([d.intervalStart, d.intervalEnd]).toEqual(['2026-12-03T09:00:00Z', '2026-12-03T10:00:00Z']);
  });

  it('day of month and day of week combine with OR, as POSIX cron (and GitHub) do', () => {
    // 2026-07-01 is a Wednesday: it fires as the 1st of the month.
    expect(runDates({ start: at('2026-07-01T12:00:00Z'), schedule: '0 0 1 * MON', logicalDate: null }).date).toBe('2026-07-01');
  });

  it('a date given as input with a schedule means that day\'s fire', () => {
    const d = runDates({ start: at('2026-12-10T08:00:00Z'), schedule: '0 2 * * *', logicalDate: '2026-12-02' });
    expect(d).toMatchObject({ ts: '2026-12-02T02:00:00Z', intervalStart: '2026-12-01T02:00:00Z', source: 'input' });
  });

  it('refuses a date on which the schedule does not fire', () => {
    expect(() => runDates({ start: 0, schedule: '0 2 * * MON', logicalDate: '2026-12-02' })).toThrow(
      new RunDateError('schedule "0 2 * * MON" does not fire on 2026-12-02 (UTC); give a day it fires on, or a timestamp'),
    );
  });

  it('without a schedule: the input or the start, with an empty interval', () => {
    expect(runDates({ start: at('2026-12-03T09:15:00.250Z'), schedule: null, logicalDate: null })).toMatchObject({
      ts: '2026-12-03T09:15:00Z',
      intervalStart: '2026-12-03T09:15:00Z',
      intervalEnd: '2026-12-03T09:15:00Z',
      source: 'start',
      schedule: '',
    });
    expect(runDates({ start: 0, schedule: '', logicalDate: '2026-02-28' })).toMatchObject({ ts: '2026-02-28T00:00:00Z', date: '2026-02-28', source: 'input' });
  });

  it.each([
    { logicalDate: '2026-02-31', msg: 'logical-date "2026-02-31" is not a date; expected YYYY-MM-DD (a UTC day) or a timestamp with a zone such as 2026-12-02T02:00:00Z' },
    { logicalDate: 'yesterday', msg: 'logical-date "yesterday" is not a date; expected YYYY-MM-DD (a UTC day) or a timestamp with a zone such as 2026-12-02T02:00:00Z' },
    { logicalDate: '2026-12-02T02:00', msg: 'logical-date "2026-12-02T02:00" is not a date; expected YYYY-MM-DD (a UTC day) or a timestamp with a zone such as 2026-12-02T02:00:00Z' },
  ])('refuses logical date $logicalDate', ({ logicalDate, msg }) => {
    expect(() => runDates({ start: 0, schedule: null, logicalDate })).toThrow(new RunDateError(msg));
  });

  it('refuses a schedule that is not a five-field cron', () => {
    expect(() => runDates({ start: 0, schedule: '61 * * * *', logicalDate: null })).toThrow(/^schedule "61 \* \* \* \*" is not a cron expression: Invalid value for minute: 61; expected five fields/);
    expect(() => runDates({ start: 0, schedule: '0 0 * * * *', logicalDate: null })).toThrow(/is not a cron expression: mode '5-part' requires exactly 5 parts/);
  });
});

describe('backfillDates', () => {
  it('lists every fire of the schedule in the range, both ends included', () => {
    expect(backfillDates('2026-12-01', '2026-12-03', '0 2 * * *')).toEqual(['2026-12-01T02:00:00Z', '2026-12-02T02:00:00Z', '2026-12-03T02:00:00Z']);
    expect(backfillDates('2026-12-01T02:00:00Z', '2026-12-01T08:00:00Z', '0 */3 * * *')).toEqual(['2026-12-01T03:00:00Z', '2026-12-01T06:00:00Z']);
  });

  it('lists every UTC day without a schedule', () => {
    expect(backfillDates('2026-02-27', '2026-03-01', null)).toEqual(['2026-02-27T00:00:00Z', '2026-02-28T00:00:00Z', '2026-03-01T00:00:00Z']);
  });

  it('each backfill date gives the run dates of that fire', () => {
    const [first] = backfillDates('2026-12-01', '2026-12-01', '0 2 * * *');
    expect(runDates({ start: at('2026-12-10T00:00:00Z'), schedule: '0 2 * * *', logicalDate: first! })).toMatchObject({ ts: '2026-12-01T02:00:00Z', intervalStart: '2026-11-30T02:00:00Z' });
  });

  it('refuses a range in the wrong order, or too long', () => {
    expect(() => backfillDates('2026-12-03', '2026-12-01', null)).toThrow('backfill-to (2026-12-01) is before backfill-from (2026-12-03); expected a range in order');
    expect(() => backfillDates('2026-01-01', '2026-12-31', '*/5 * * * *')).toThrow('the backfill from 2026-01-01 to 2026-12-31 has more than 1000 runs; split it into smaller ranges');
  });
});

describe('run in if:', () => {
  it('lets a task run only on some logical dates', async () => {
    const { Scheduler } = await import('../../src/dag/scheduler.ts');
    const { dag, task, cond } = await import('./builders.ts');
    const spec = dag([task('monthly', { if: cond("endsWith(run.date, '-01')") }), task('daily')]);
    const run = (date: string) => new Scheduler(spec, { now: 0, maxParallel: 0, params: {}, run: { ...runDates({ start: 0, schedule: null, logicalDate: date }) } }).start();
    expect(run('2026-12-01').map((d) => d.type === 'start' && d.task)).toEqual(['monthly', 'daily']);
    expect(run('2026-12-02').map((d) => d.type)).toEqual(['skip', 'start']);
  });
});

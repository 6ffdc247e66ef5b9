/**
 * The `run` context: a run's logical date and data interval, as Airflow gives every DAG run
 * (`{{ ds }}`, `data_interval_start`, `data_interval_end`), and the dates of a backfill.
 *
 * - With a schedule (the cron of a `schedule` event, or one given to the action), the logical
 *   date is the schedule's last fire time at or before the reference moment, and the data
 *   interval runs from the fire before it to it: `[previous fire, logical date]`. The reference
 *   moment is the run's start (GitHub starts scheduled runs minutes late; the logical date is
 *   still the fire time), or the logical date given as an input: a date (`2026-12-02`) means
 *   the schedule's last fire on that UTC day, a timestamp the last fire at or before it.
 * - Without a schedule, the logical date is the input (a date is its UTC midnight) or the run's
 *   start, and the data interval is empty: it starts and ends at the logical date (as Airflow
 *   does for runs triggered by hand).
 *
 * Every value is UTC: dates as `YYYY-MM-DD`, timestamps as `YYYY-MM-DDTHH:MM:SSZ`. Cron
 * expressions are read by croner in UTC (GitHub's schedules are UTC), five fields, day of month
 * and day of week combined with OR as POSIX cron does. Pure: the time comes in as an argument.
 */
import { Cron } from 'croner';

/** A logical date or schedule that cannot be read; the message says what was expected. */
export class RunDateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunDateError';
  }
}

/** The `run` context of one run (see RUN_FIELDS in src/spec/expression.ts). */
export interface RunDates {
  /** The logical date, `YYYY-MM-DD` (Airflow's `ds`). */
  date: string;
  /** The logical date as `YYYYMMDD` (Airflow's `ds_nodash`). */
  dateNodash: string;
  /** The logical date and time, `YYYY-MM-DDTHH:MM:SSZ` (Airflow's `ts`, `logical_date`). */
  ts: string;
  /** Start of the data interval, timestamp and date (Airflow's `data_interval_start`). */
  intervalStart: string;
  intervalStartDate: string;
  /** End of the data interval, timestamp and date (Airflow's `data_interval_end`). */
  intervalEnd: string;
  intervalEndDate: string;
  /** Where the logical date came from: `schedule`, `input` (a logical date or a backfill), or `start`. */
  source: 'schedule' | 'input' | 'start';
  /** The cron expression used, or `''`. */
  schedule: string;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;
const DAY_MS = 86_400_000;

/** Reads a logical date input: `YYYY-MM-DD` or an ISO 8601 timestamp with a zone. */
export function parseLogicalDate(text: string, what = 'logical-date'): { ms: number; dateOnly: boolean } {
  const t = text.trim();
  const ms = DATE.test(t) ? Date.parse(`${t}T00:00:00Z`) : TIMESTAMP.test(t) ? Date.parse(t) : Number.NaN;
  // Date.parse accepts 2026-02-31; a round trip catches it.
  if (Number.isNaN(ms) || (DATE.test(t) && new Date(ms).toISOString().slice(0, 10) !== t)) {
    throw new RunDateError(`${what} "${text}" is not a date; expected YYYY-MM-DD (a UTC day) or a timestamp with a zone such as 2026-12-02T02:00:00Z`);
  }
  return { ms, dateOnly: DATE.test(t) };
}

function cron(schedule: string): Cron {
  try {
    return new Cron(schedule, { timezone: 'UTC', paused: true, mode: '5-part' });
  } catch (err) {
    throw new RunDateError(`schedule "${schedule}" is not a cron expression: ${(err as Error).message.replace(/^CronPattern: /, '')}; expected five fields, e.g. "0 2 * * *"`);
  }
}

/** The last fire of `c` at or before `ms` (croner's previousRuns is strictly before; +1 ms makes it "at or before"). */
function lastFireAtOrBefore(c: Cron, ms: number, schedule: string): [number, number] {
  const runs = c.previousRuns(2, new Date(ms + 1));
  if (runs.length < 2) throw new RunDateError(`schedule "${schedule}" has not fired twice before ${iso(ms)}; no data interval can be computed`);
  return [runs[0]!.getTime(), runs[1]!.getTime()];
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function dates(logical: number, start: number, end: number, source: RunDates['source'], schedule: string): RunDates {
  const ts = iso(logical);
  return {
    date: ts.slice(0, 10),
    dateNodash: ts.slice(0, 10).replaceAll('-', ''),
    ts,
    intervalStart: iso(start),
    intervalStartDate: iso(start).slice(0, 10),
    intervalEnd: iso(end),
    intervalEndDate: iso(end).slice(0, 10),
    source,
    schedule,
  };
}

/** What decides a run's dates. */
export interface RunDateInputs {
  /** When the run started, epoch ms. */
  start: number;
  /** The cron expression (a `schedule` event's, or given), or null. */
  schedule: string | null;
  /** The logical date given as an input (`YYYY-MM-DD` or a timestamp), or null. */
  logicalDate: string | null;
}

/** The `run` context of a run. Throws RunDateError for an unreadable date or schedule. */
export function runDates(inputs: RunDateInputs): RunDates {
  const schedule = inputs.schedule?.trim() || null;
  const given = inputs.logicalDate?.trim() ? parseLogicalDate(inputs.logicalDate) : null;
  if (schedule === null) {
    const logical = given?.ms ?? inputs.start;
    return dates(logical, logical, logical, given ? 'input' : 'start', '');
  }
  const c = cron(schedule);
  // A date means "that day's run": the last fire on or before the end of the day.
  const reference = given === null ? inputs.start : given.dateOnly ? given.ms + DAY_MS - 1 : given.ms;
  const [fire, previous] = lastFireAtOrBefore(c, reference, schedule);
  if (given?.dateOnly && fire < given.ms) {
    throw new RunDateError(`schedule "${schedule}" does not fire on ${inputs.logicalDate!.trim()} (UTC); give a day it fires on, or a timestamp`);
  }
  return dates(fire, previous, fire, given ? 'input' : 'schedule', schedule);
}

/** The most runs one backfill may ask for. */
export const MAX_BACKFILL_RUNS = 1000;

/**
 * The logical dates of a backfill from `from` to `to` (inclusive; dates or timestamps), in
 * order: every fire of the schedule in the range, or, without a schedule, every UTC day. Each is
 * a timestamp to give `runDates` as its logical date.
 */
export function backfillDates(from: string, to: string, schedule: string | null): string[] {
  const a = parseLogicalDate(from, 'backfill-from');
  const b = parseLogicalDate(to, 'backfill-to');
  const end = b.dateOnly ? b.ms + DAY_MS - 1 : b.ms;
  if (end < a.ms) throw new RunDateError(`backfill-to (${to}) is before backfill-from (${from}); expected a range in order`);
  const out: string[] = [];
  const push = (ms: number) => {
    if (out.length >= MAX_BACKFILL_RUNS) {
      throw new RunDateError(`the backfill from ${from} to ${to} has more than ${MAX_BACKFILL_RUNS} runs; split it into smaller ranges`);
    }
    out.push(iso(ms));
  };
  const cronText = schedule?.trim() || null;
  if (cronText === null) {
    for (let ms = a.dateOnly ? a.ms : Date.UTC(new Date(a.ms).getUTCFullYear(), new Date(a.ms).getUTCMonth(), new Date(a.ms).getUTCDate()); ms <= end; ms += DAY_MS) {
      if (ms >= a.ms) push(ms);
    }
    return out;
  }
  const c = cron(cronText);
  // nextRun is strictly after its argument: start 1 ms before the range.
  for (let next = c.nextRun(new Date(a.ms - 1)); next !== null && next.getTime() <= end; next = c.nextRun(next)) push(next.getTime());
  return out;
}

/** The `run` context as an expression reads it (every field a string). */
export function runContext(d: RunDates): Record<string, string> {
  return { ...d };
}

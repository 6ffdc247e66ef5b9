/** The DAG core: the graph, the `if:` evaluator and the scheduler (pure: no I/O, no clock). */
export * from './types.ts';
export { Scheduler, retryDelay, githubResult, type SchedulerStats } from './scheduler.ts';
export { formatDuration } from '../common/duration.ts';
export { buildGraph, levels, type DagGraph } from '../spec/graph.ts';
export { runDates, backfillDates, parseLogicalDate, runContext, RunDateError, MAX_BACKFILL_RUNS, type RunDates, type RunDateInputs } from './run-dates.ts';
export {
  evaluate,
  decide,
  truthy,
  toNumber,
  looseEquals,
  conditionCallsStatus,
  runsWhenCancelled,
  type ExprValue,
  type ConditionContext,
  type ConditionVerdict,
} from './condition.ts';

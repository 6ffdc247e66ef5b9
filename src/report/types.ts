/**
 * Reporting goes through one interface of optional hooks (as nx's task-runner life cycle does):
 * the engine calls them, each reporter (live log, summary, annotations, outputs) implements the
 * ones it cares about, and `CompositeReporter` forwards to all of them.
 */
import type { AttemptOutcome, Decision, RunState, RunView } from '../dag/types.ts';
import type { PendingStatus } from '../common/observed.ts';
import type { DagSpec } from '../spec/types.ts';

export type { HistoryRun, PendingStatus, RunHistory } from '../common/observed.ts';

import type { Mode, RunContext } from '../common/run.ts';

// The run's identity is declared once, in src/common/run.ts; reporters know it by these names too.
export type { Mode, RunContext };

/** Everything a reporter needs to know about a run before it starts. */
export interface RunInfo {
  mode: Mode;
  spec: DagSpec;
  context: RunContext;
  namespace: string | null;
  params: Record<string, string>;
}

/** The cluster's verdict on one pod submitted with `dryRun=All`. */
export interface DryRunVerdict {
  task: string;
  pod: string;
  accepted: boolean;
  /** The cluster's message when it refused (admission, RBAC, schema, quota). */
  message: string | null;
  /**
   * What the checks beyond the server's dry run found: the pod would be accepted but would not
   * run (a missing Secret or key, no node it fits on). Empty or absent: nothing found.
   */
  problems?: string[];
}

/** The checks a dry run made beyond the server's own, and those it had to skip. */
export interface DryRunChecks {
  /** Each check made, in words. */
  done: string[];
  /** Each check skipped, and why (RBAC, most often). */
  skipped: { check: string; why: string }[];
}

/** One line of a container's log. */
export interface LogLine {
  task: string;
  attempt: number;
  /** The line without its trailing newline. */
  text: string;
  /** The timestamp Kubernetes gave the line, when asked for. */
  time: string | null;
}

/** The hooks; every one is optional. */
export interface Reporter {
  runStarted?(info: RunInfo): void | Promise<void>;
  /** Every scheduler decision, as it is made (start, retry, skip, give-up, cancel, done); `run` is live. */
  decision?(decision: Decision, run: RunView): void | Promise<void>;
  /** A pod was created (or adopted) for an attempt. */
  /** `poke` is a sensor's poke (each poke is a pod). */
  podCreated?(task: string, attempt: number, pod: string, adopted: boolean, poke?: number): void | Promise<void>;
  /**
   * The attempt's pod is still waiting to start, and its status says why (called on every change
   * the watch brings; a reporter decides what is worth a line). `at`: epoch ms, from the run's clock.
   */
  podPending?(task: string, attempt: number, status: PendingStatus, at: number): void;
  /** The attempt's container started (on `node`), `pendingMs` after its pod was created. */
  containerStarted?(task: string, attempt: number, node: string | null, pendingMs: number): void;
  logLine?(line: LogLine): void;
  /**
   * The log of an attempt whose container started was read to its end (or can be read no more):
   * no more `logLine` of it comes. Its `attemptFinished` (and the decisions its end brought) may
   * have come before: the engine does not hold the DAG back for a log, so a reporter that prints
   * an attempt's result after its last lines holds that line until this.
   */
  logEnded?(task: string, attempt: number): void;
  /** An attempt ended (succeeded or not), after the scheduler was told; `run` (live) includes it. */
  attemptFinished?(task: string, attempt: number, outcome: AttemptOutcome, run: RunView): void | Promise<void>;
  dryRunVerdict?(verdict: DryRunVerdict): void | Promise<void>;
  /** The checks a dry run made beyond the server's, and those it skipped (before the verdicts). */
  dryRunChecks?(checks: DryRunChecks): void | Promise<void>;
  /** The run is over: the final state, and for each failed task the last lines of its log. */
  runFinished?(state: RunState, logTails: Record<string, string[]>): void | Promise<void>;
  /** `plan` mode is done: the pod each task would get, by task id (instead of `runFinished`). */
  planRendered?(info: RunInfo, pods: Record<string, object>): void | Promise<void>;
}

/** Forwards every hook to each reporter, in order. */
export class CompositeReporter implements Reporter {
  readonly #reporters: Reporter[];

  constructor(reporters: Reporter[]) {
    this.#reporters = reporters;
  }

  async runStarted(info: RunInfo): Promise<void> {
    for (const r of this.#reporters) await r.runStarted?.(info);
  }

  async decision(decision: Decision, run: RunView): Promise<void> {
    for (const r of this.#reporters) await r.decision?.(decision, run);
  }

  async podCreated(task: string, attempt: number, pod: string, adopted: boolean, poke?: number): Promise<void> {
    for (const r of this.#reporters) await r.podCreated?.(task, attempt, pod, adopted, poke);
  }

  logLine(line: LogLine): void {
    for (const r of this.#reporters) r.logLine?.(line);
  }

  logEnded(task: string, attempt: number): void {
    for (const r of this.#reporters) r.logEnded?.(task, attempt);
  }

  podPending(task: string, attempt: number, status: PendingStatus, at: number): void {
    for (const r of this.#reporters) r.podPending?.(task, attempt, status, at);
  }

  containerStarted(task: string, attempt: number, node: string | null, pendingMs: number): void {
    for (const r of this.#reporters) r.containerStarted?.(task, attempt, node, pendingMs);
  }

  async attemptFinished(task: string, attempt: number, outcome: AttemptOutcome, run: RunView): Promise<void> {
    for (const r of this.#reporters) await r.attemptFinished?.(task, attempt, outcome, run);
  }

  async dryRunVerdict(verdict: DryRunVerdict): Promise<void> {
    for (const r of this.#reporters) await r.dryRunVerdict?.(verdict);
  }

  async dryRunChecks(checks: DryRunChecks): Promise<void> {
    for (const r of this.#reporters) await r.dryRunChecks?.(checks);
  }

  async runFinished(state: RunState, logTails: Record<string, string[]>): Promise<void> {
    for (const r of this.#reporters) await r.runFinished?.(state, logTails);
  }

  async planRendered(info: RunInfo, pods: Record<string, object>): Promise<void> {
    for (const r of this.#reporters) await r.planRendered?.(info, pods);
  }
}

/**
 * Writes the job summary once, when the run (or dry run, or plan) ends. Rendering is pure
 * (summary.ts); only the `SummaryWriter` touches a file, as in actions/toolkit's summary.
 */
import * as core from '@actions/core';
import { appendFile } from 'node:fs/promises';
import type { RunState } from '../dag/types.ts';
import type { DryRunChecks, DryRunVerdict, Reporter, RunHistory, RunInfo } from './types.ts';
import { renderDryRunSummary, renderPlanSummary, renderRunSummary, type KeepPodsPolicy } from './summary.ts';

/** Where a rendered summary goes. */
export interface SummaryWriter {
  write(markdown: string): Promise<void>;
}

/**
 * Appends to the step summary through @actions/core (`GITHUB_STEP_SUMMARY`). Outside a runner
 * (no `GITHUB_STEP_SUMMARY`) there is nowhere to write, and it does nothing.
 */
export const coreSummaryWriter: SummaryWriter = {
  async write(markdown) {
    if ((process.env.GITHUB_STEP_SUMMARY ?? '') === '') return;
    await core.summary.addRaw(markdown).write();
  },
};

/** Appends to a file (for the CLI's `--summary <file>` and for tests). */
export function fileSummaryWriter(path: string): SummaryWriter {
  return { write: (markdown) => appendFile(path, markdown, 'utf8') };
}

/** Options of `SummaryReporter`. */
export interface SummaryReporterOptions {
  /** Where the summary goes; default `runner` when given, else `coreSummaryWriter`. */
  writer?: SummaryWriter;
  /** The runner seam (src/action/github-runner.ts `Runner` fits), used when no `writer` is given. */
  runner?: { appendSummary(markdown: string): Promise<void> };
  /** The last log lines of each failed task to show (the `log-tail-lines` input); default 50. */
  logTailLines?: number;
  /** The `keep-pods` input, so a failed task's section says whether its pod is still there. */
  keepPods?: KeepPodsPolicy;
  /** Size budget in bytes; default GitHub's limit less a margin. */
  maxBytes?: number;
  /** Values to redact, with their base64 forms: the runner does not mask the summary file. */
  secrets?: readonly string[];
}

/** Renders and writes the job summary at the end of a run, a dry run or a plan. */
export class SummaryReporter implements Reporter {
  readonly #options: SummaryReporterOptions;
  readonly #writer: SummaryWriter;
  #info: RunInfo | null = null;
  readonly #verdicts: DryRunVerdict[] = [];
  #checks: DryRunChecks | undefined;
  #history: RunHistory | undefined;
  #written = false;

  constructor(options: SummaryReporterOptions = {}) {
    this.#options = options;
    const runner = options.runner;
    this.#writer = options.writer ?? (runner === undefined ? coreSummaryWriter : { write: (md) => runner.appendSummary(md) });
  }

  runStarted(info: RunInfo): void {
    this.#info = info;
  }

  dryRunVerdict(verdict: DryRunVerdict): void {
    this.#verdicts.push(verdict);
  }

  dryRunChecks(checks: DryRunChecks): void {
    this.#checks = checks;
  }

  /** The last runs of this DAG, read before the run (src/kube/history.ts), for the history grid. */
  setHistory(history: RunHistory): void {
    this.#history = history;
  }

  async runFinished(state: RunState, logTails: Record<string, string[]>): Promise<void> {
    const info = this.#info;
    if (info === null) return;
    const common = { maxBytes: this.#options.maxBytes, secrets: this.#options.secrets ?? [] };
    const text =
      info.mode === 'dry-run'
        ? renderDryRunSummary(info, this.#verdicts, { ...common, checks: this.#checks })
        : renderRunSummary(info, state, logTails, { ...common, logTailLines: this.#options.logTailLines ?? 50, keepPods: this.#options.keepPods, history: this.#history });
    await this.#write(text);
  }

  async planRendered(info: RunInfo, pods: Record<string, object>): Promise<void> {
    await this.#write(renderPlanSummary(info, pods, { maxBytes: this.#options.maxBytes, secrets: this.#options.secrets ?? [] }));
  }

  /** Writes the plan summary (`planRendered` under the name the entry point uses). */
  plan(info: RunInfo, pods: Record<string, object>): Promise<void> {
    return this.planRendered(info, pods);
  }

  /** Writes at most once: a second end (a bug elsewhere) must not double the summary. */
  async #write(text: string): Promise<void> {
    if (this.#written) return;
    this.#written = true;
    await this.#writer.write(text);
  }
}

/**
 * The GitHub runner, behind a narrow interface (as actions/checkout keeps git behind one): the
 * action's code calls these, never @actions/core directly, so the flow can be followed and tested
 * in one place. `githubRunner()` is the real one.
 */
import * as core from '@actions/core';

/** Where an annotation points. */
export interface AnnotationPlace {
  title?: string;
  file?: string;
  startLine?: number;
  startColumn?: number;
}

/** What the action does with the runner. */
export interface Runner {
  getInput(name: string): string;
  /** Registers a value the runner masks as `***` in the log from now on. */
  setSecret(value: string): void;
  info(line: string): void;
  debug(line: string): void;
  warning(message: string, place?: AnnotationPlace): void;
  error(message: string, place?: AnnotationPlace): void;
  setOutput(name: string, value: string): void;
  saveState(name: string, value: string): void;
  getState(name: string): string;
  /** Appends Markdown to the job summary (GITHUB_STEP_SUMMARY). */
  appendSummary(markdown: string): Promise<void>;
  /** Marks the step failed (exit code 1) with an error message. */
  setFailed(message: string): void;
}

/** The real runner, through @actions/core (workflow commands and file commands). */
export function githubRunner(): Runner {
  return {
    getInput: (name) => core.getInput(name),
    setSecret: (value) => core.setSecret(value),
    info: (line) => core.info(line),
    debug: (line) => core.debug(line),
    warning: (message, place) => core.warning(message, place ?? {}),
    error: (message, place) => core.error(message, place ?? {}),
    setOutput: (name, value) => core.setOutput(name, value),
    saveState: (name, value) => core.saveState(name, value),
    getState: (name) => core.getState(name),
    appendSummary: async (markdown) => {
      if (!process.env['GITHUB_STEP_SUMMARY']) return;
      await core.summary.addRaw(markdown, true).write();
      core.summary.emptyBuffer();
    },
    setFailed: (message) => core.setFailed(message),
  };
}

/**
 * Registers a secret so that no form of it reaches the log: the whole value, and each of its
 * lines (the runner matches masks line by line, so a multi-line kubeconfig needs its lines too).
 */
export function maskSecret(runner: Runner, value: string | undefined): void {
  if (!value) return;
  const trimmed = value.trim();
  if (trimmed.length === 0) return;
  runner.setSecret(trimmed);
  if (trimmed.includes('\n')) {
    for (const line of trimmed.split(/\r?\n/)) {
      const l = line.trim();
      // Short, structural lines (`users:`, `- name: x`) are not secret and masking them would
      // turn the whole log into stars; key material and tokens are long.
      if (l.length >= 16) runner.setSecret(l);
    }
  }
}

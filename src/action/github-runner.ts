/**
 * The GitHub runner, behind a narrow interface (as actions/checkout keeps git behind one): the
 * action's code calls these, never @actions/core directly, so the flow can be followed and tested
 * in one place. `githubRunner()` is the real one.
 */
import { EOL } from 'node:os';
import { format } from 'node:util';
import * as core from '@actions/core';
import { encodedForms, replacerOf } from '../report/escape.ts';
import { stepLogLines, workflowCommand, type CommandName } from '../report/workflow-commands.ts';
import { withoutInvisible } from '../report/invisible.ts';
import { urlCredentials } from '../common/url-credentials.ts';

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
  /**
   * A promise while the step log is backed up (the runner reads our output slower than we write
   * it), settled when it has drained; undefined otherwise. Log streams pause on it.
   */
  logBacklog?(): Promise<void> | undefined;
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

/**
 * The step log's text on its way to stdout. `core.info` writes each line with its own `write`,
 * a system call per line: that capped a container log at ~20 MB/s of 100-byte lines. Here the
 * lines printed in one burst (the lines of one chunk of a container log) leave in one write, at
 * the next microtask checkpoint or once 64 KiB are pending; whatever else the runner prints
 * flushes them first, so the step log keeps the order things were printed in. Each line is whole
 * inside one write, so lines of parallel tasks never mix.
 */
export class StdoutLines {
  readonly #out: NodeJS.WritableStream & { writableNeedDrain: boolean };
  #pending = '';
  #scheduled = false;
  #drained: Promise<void> | null = null;

  constructor(out: NodeJS.WritableStream & { writableNeedDrain: boolean }) {
    this.#out = out;
  }

  /** Prints one line (without its newline). */
  line(text: string): void {
    this.#pending += text + EOL;
    if (this.#pending.length >= 64 * 1024) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => {
        this.#scheduled = false;
        this.flush();
      });
    }
  }

  /** Writes what is pending now. */
  flush(): void {
    if (this.#pending === '') return;
    const text = this.#pending;
    this.#pending = '';
    this.#out.write(text);
  }

  /**
   * Flushes; then a promise (one for all callers) if the stream is backed up, settled on 'drain'
   * (or when the stream closes or fails: nothing is waited for that will not come).
   */
  backlog(): Promise<void> | undefined {
    this.flush();
    if (!this.#out.writableNeedDrain) return undefined;
    this.#drained ??= new Promise<void>((resolve) => {
      const done = (): void => {
        this.#out.off('drain', done);
        this.#out.off('close', done);
        this.#out.off('error', done);
        this.#drained = null;
        resolve();
      };
      this.#out.on('drain', done);
      this.#out.on('close', done);
      this.#out.on('error', done);
    });
    return this.#drained;
  }
}

/**
 * The real runner. Every byte it writes to stdout goes through src/report/workflow-commands.ts:
 * plain text as inert lines (`stepLogLines`), commands as `workflowCommand` builds them. Outputs,
 * state and the summary go to the runner's files through @actions/core.
 */
export function githubRunner(): Runner {
  const out = new StdoutLines(process.stdout);
  const masked = new Set<string>();
  /**
   * The action's own messages (annotations, debug lines, the summary) with every mask replaced
   * by `***` before they leave: the runner masks an annotation's text only after decoding it, and
   * the summary file as it uploads it; here nothing depends on that. Task log lines (`info`, the
   * hot path) are left to the runner's masking, which sees them exactly as the viewer shows them
   * (no escape sequence or invisible character is left in a line), but for a line the inert path
   * changed (`stepLogLines`).
   */
  let hide = replacerOf([]);
  // Lines printed just before a synchronous process.exit() still go out.
  process.on('exit', () => out.flush());
  // The runner masks what it is given; only a line whose text the inert path had to change
  // (`##[`, a leading `::`) is hidden here first, for a mask that spans the change.
  const text = (line: string): void => {
    for (const l of stepLogLines(line, hide)) out.line(l);
  };
  const command = (name: CommandName, properties: Record<string, string | number | undefined>, data: string): void => {
    out.line(workflowCommand(name, properties, data));
  };
  const annotation = (level: 'error' | 'warning', message: string, place: AnnotationPlace = {}): void =>
    command(
      level,
      { title: place.title === undefined ? undefined : hide(place.title), file: place.file, line: place.startLine, col: place.startLine === undefined ? undefined : place.startColumn },
      hide(message),
    );
  /** Everything that is not stdout goes after the lines printed before it. */
  const then = <A extends unknown[], R>(fn: (...args: A) => R) => (...args: A): R => {
    out.flush();
    return fn(...args);
  };
  return {
    getInput: (name) => core.getInput(name),
    setSecret: (value) => {
      // Each value once: the inputs are masked at the start and again among the connection's secrets.
      if (masked.has(value)) return;
      masked.add(value);
      if (value.trim() !== '') hide = replacerOf([...masked].filter((m) => m.trim() !== ''));
      command('add-mask', {}, value);
    },
    info: text,
    logBacklog: () => out.backlog(),
    debug: (line) => command('debug', {}, hide(line)),
    warning: (message, place) => annotation('warning', message, place),
    error: (message, place) => annotation('error', message, place),
    // The runner's files; without them (an old runner) the command form, built here too.
    setOutput: then((name: string, value: string) => (process.env['GITHUB_OUTPUT'] ? core.setOutput(name, value) : command('set-output', { name }, value))),
    saveState: then((name: string, value: string) => (process.env['GITHUB_STATE'] ? core.saveState(name, value) : command('save-state', { name }, value))),
    getState: (name) => core.getState(name),
    appendSummary: async (markdown) => {
      if (!process.env['GITHUB_STEP_SUMMARY']) return;
      out.flush();
      await core.summary.addRaw(hide(markdown), true).write();
      core.summary.emptyBuffer();
    },
    setFailed: (message) => {
      process.exitCode = 1;
      annotation('error', message);
    },
  };
}

/**
 * Makes the runner seam the one way out of this process. The runner reads workflow commands on
 * stderr as on stdout, and a library's console line, a Node warning or an uncaught error's
 * message can carry text from a pod or the cluster: they leave as inert lines of the step log
 * (console.debug, console.trace and warnings as debug lines), and an uncaught error fails the
 * step with its message as an annotation, its stack in a debug line, and exit code 1 (as Node's
 * own handler would, without writing the stack raw to stderr). For the action's entry points only.
 */
export function ownProcessOutput(runner: Runner): void {
  const print = (...args: unknown[]): void => runner.info(format(...args));
  const debug = (...args: unknown[]): void => runner.debug(format(...args));
  Object.assign(console, { log: print, info: print, warn: print, error: print, debug, trace: debug });
  // Node's own listener prints warnings to stderr; ours replaces it.
  process.removeAllListeners('warning');
  process.on('warning', (w) => runner.debug(`${w.name}: ${w.message}`));
  const fatal = (err: unknown): void => {
    const e = err instanceof Error ? err : new Error(String(err));
    runner.setFailed(`pod-dag-action hit an internal error: ${e.message}. Please report it with this step's log.`);
    runner.debug(e.stack ?? e.message);
    process.exit(1);
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
}

/** Keys of a kubeconfig (or similar YAML) line whose value is a credential (not the CA's `certificate-authority-data`: public, and long). */
const CREDENTIAL_KEY = /token|passw(or)?d|secret|key-data|client-certificate-data|credential|authorization/i;

/** A command-line flag that names a credential, and its value (`--token=x`, `--password x`, `"--token", "x"`). */
const CREDENTIAL_FLAG = /--?[\w-]*(?:token|passw(?:or)?d|secret|api[_-]?key|access[_-]?key|credential)[\w-]*["']?(?:\s*,\s*|[=\s]+)["']?([^\s"',\]]{8,})/gi;

/**
 * Registers a secret so that no form of it reaches the log. The runner masks exactly the strings
 * it is told, line by line, so this tells it: the value; its encoded forms (base64 at each byte
 * alignment, URL and JSON escaping: `encodedForms`); the value as the step log prints it (without
 * invisible characters or escape sequences); for a value of several lines (a kubeconfig,
 * a PEM key) each long line and the credential of each `key: value` line whose key names one; the
 * password of every URL in it (`https://user:password@host`); and for a base64 value that decodes
 * to text (a kubeconfig given as base64) all of that for the decoded text, before anything parses
 * it and can quote it in an error.
 */
export function maskSecret(runner: Runner, value: string | undefined): void {
  if (!value) return;
  const masks = new Set<string>();
  // The value itself whatever its length, as the runner masks a secret of the workflow.
  if (value.trim() !== '') masks.add(value.trim());
  collectMasks(value, masks, true);
  for (const m of masks) runner.setSecret(m);
}

function collectMasks(value: string, masks: Set<string>, decode: boolean): void {
  const trimmed = value.trim();
  // The runner skips blank values; very short ones would turn the whole log into stars.
  if (trimmed.length < 4) return;
  masks.add(trimmed);
  // The step log drops invisible characters and escape sequences (stepLogLines): a secret that
  // holds one is printed without it, and that is the form the runner must find.
  const seen = withoutInvisible(trimmed);
  if (seen !== trimmed && seen.trim().length >= 4) collectMasks(seen, masks, decode);
  for (const form of encodedForms(trimmed)) if (form.length >= 6) masks.add(form);
  for (const secret of urlCredentials(trimmed)) if (secret.length >= 4) masks.add(secret);
  if (trimmed.includes('\n') || trimmed.includes('\r')) {
    let previous = '';
    for (const line of trimmed.split(/\r\n|\r|\n/)) {
      const l = line.trim();
      // Short, structural lines (`users:`, `- name: x`) are not secret and masking them would
      // turn the whole log into stars; key material and tokens are long.
      if (l.length >= 16) masks.add(l);
      const kv = /^-?\s*"?([\w.-]+)"?\s*:\s*"?([^\s"]{8,})"?$/.exec(l);
      if (kv && CREDENTIAL_KEY.test(kv[1]!)) collectMasks(kv[2]!, masks, true);
      // An exec plugin's credentials: a flag's value in its args (`--token=x`, `["--token", "x"]`).
      for (const m of l.matchAll(CREDENTIAL_FLAG)) collectMasks(m[1]!, masks, true);
      // The value on the line after the one that names it: `- --token` then `- x` (args), or
      // `- name: AWS_SECRET_ACCESS_KEY` then `value: x` (the plugin's env).
      const next = /^(?:-|value\s*:)\s*["']?([^\s"',\]]{8,})["']?$/.exec(l);
      if (next && CREDENTIAL_KEY.test(previous)) collectMasks(next[1]!, masks, true);
      previous = l;
    }
  }
  if (decode && trimmed.length >= 16 && /^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed.replace(/\s+/g, ''))) {
    const decoded = Buffer.from(trimmed.replace(/\s+/g, ''), 'base64').toString('utf8');
    // Text, not random bytes (a token that happens to be base64 decodes to binary).
    // eslint-disable-next-line no-control-regex
    if (!decoded.includes('\ufffd') && !/[\u0000-\u0008\u000e-\u001f]/.test(decoded)) collectMasks(decoded, masks, false);
  }
}

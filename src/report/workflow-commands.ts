/**
 * The one choke point between text and the step log: everything the action writes to stdout is
 * either plain text made inert here (`stepLogLines`) or a workflow command built here
 * (`workflowCommand`). src/action/github-runner.ts writes nothing else.
 *
 * What the GitHub runner reads as a command (actions/runner, src/Runner.Common/ActionCommand.cs
 * and src/Runner.Worker/Handlers/OutputManager.cs; modelled in test/helpers/runner-commands.ts):
 * stdout AND stderr are split into lines at `\n`, `\r` or `\r\n` (StreamReader.ReadLine), and a
 * line is a command when
 *   - after leading whitespace it starts with `::`, a registered command name, and a second `::`
 *     (`::add-mask::x`, the form @actions/core writes), or
 *   - it holds `##[` ANYWHERE, followed by a registered command name and a `]` (the legacy form:
 *     `[task] ##[stop-commands]token` stops every later command of the step, the action's own
 *     failure annotations included).
 * The runner finds `##[` and `::` with culture-sensitive .NET string search, which skips
 * characters that collate as nothing (C0 controls, zero-width and other default-ignorable code
 * points): so the neutralising below looks through those too.
 */

import { withoutInvisible } from './invisible.ts';

/** Characters the runner's culture-sensitive search skips that may remain after `withoutInvisible` (the emoji glue). */
const IGNORABLE = String.raw`[\p{Default_Ignorable_Code_Point}\u001b]`;

/** `##[` with anything the runner's search skips in between: the legacy command prefix. */
const LEGACY_PREFIX = new RegExp(`#(${IGNORABLE}*)#(${IGNORABLE}*)\\[`, 'gu');

/** A line whose first non-blank characters are `::`: the current command form. */
const COMMAND_START = new RegExp(`^([\\s${IGNORABLE.slice(1, -1)}]*):(${IGNORABLE}*):`, 'u');

/** Line breaks as the runner splits lines, and the Unicode line and paragraph separators. */
const LINE_BREAK = /\r\n|\r|\n|\u2028|\u2029/;

/**
 * Text as lines of the step log that the runner shows as they are and never runs: split at every
 * line break, escape sequences (colours too) and invisible characters removed (invisible.ts), `##[`
 * anywhere written `# #[`, and a leading `::` written `: :`. Whatever the text, no line of the
 * result is a workflow command, and what the runner masks in a line is what the log viewer shows
 * of it: a colour code or a zero-width character inside a secret cannot hide it from the mask.
 *
 * Writing `# #[` or `: :` changes the line's text: a secret that holds `##[` (or starts a line with
 * `::`) would no longer be what the runner masks. `hide` (the masks the caller knows) is applied
 * to such a line first.
 */
export function stepLogLines(text: string, hide?: (text: string) => string): string[] {
  return text.split(LINE_BREAK).map((line) => inertLine(line, hide));
}

/** One line (no line break left in it) made inert; see `stepLogLines`. */
function inertLine(line: string, hide?: (text: string) => string): string {
  const clean = withoutInvisible(line);
  const inert = neutralised(clean);
  return inert === clean || hide === undefined ? inert : neutralised(hide(clean));
}

/** `##[` written `# #[`, a leading `::` written `: :`. */
function neutralised(line: string): string {
  return line.replace(LEGACY_PREFIX, '# $1#$2[').replace(COMMAND_START, '$1: $2:');
}

/**
 * Text for a terminal (the CLI): every escape sequence (colours included) and every control
 * character but `\n` and `\t` removed, so a task's log or a cluster's message cannot move the
 * cursor, rewrite earlier lines, retitle the window or hide text.
 */
export function terminalText(text: string): string {
  return withoutInvisible(text).replace(/\r\n/g, '\n').replace(/\r/g, '');
}

/** A command's data: `%`, CR and LF encoded as the runner decodes them (ActionCommand.UnescapeData). */
function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** A command's property value: also `:` and `,`, which end a property (ActionCommand.UnescapeProperty). */
function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

/** The workflow commands the action issues. */
export type CommandName = 'error' | 'warning' | 'notice' | 'debug' | 'add-mask' | 'set-output' | 'save-state';

/**
 * One workflow command line, `::name key=value,…::data`, with the data and every property value
 * escaped so that the runner reads exactly them back and nothing else: the first `::` after the
 * name is the one written here, and no line break can leave the line. For annotations and debug
 * lines the data is cleaned of controls as `stepLogLines` cleans a line (line breaks are kept,
 * escaped); a mask's value is kept exact.
 */
export function workflowCommand(name: CommandName, properties: Record<string, string | number | undefined>, data: string): string {
  const props = Object.entries(properties)
    .filter((e): e is [string, string | number] => e[1] !== undefined && e[1] !== '')
    .map(([k, v]) => `${k}=${escapeProperty(cleanText(String(v)))}`)
    .join(',');
  // Values handed to the runner (a mask, an output, state) are kept exact; messages are cleaned.
  const body = name === 'add-mask' || name === 'set-output' || name === 'save-state' ? data : cleanText(data);
  return `::${name}${props === '' ? '' : ` ${props}`}::${escapeData(body)}`;
}

/** Controls and format characters removed, line breaks kept as `\n`. */
function cleanText(text: string): string {
  return text
    .split(LINE_BREAK)
    .map(withoutInvisible)
    .join('\n');
}

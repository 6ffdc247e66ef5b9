/**
 * The one choke point between text and the step log: everything the action writes to stdout is
 * either plain text made inert here (`stepLogLines`) or a workflow command built here
 * (`workflowCommand`). src/runner.ts writes nothing else.
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

/**
 * Escape sequences: CSI (ESC `[` or C1 0x9B, parameters, one final byte), OSC / DCS / SOS / PM /
 * APC strings (up to BEL or ST, or the end of the text), and the other two-byte ESC sequences.
 */
const ESCAPE_SEQUENCE =
  // eslint-disable-next-line no-control-regex
  /(?:\u001b\[|\u009b)[0-?]*[ -/]*[@-~]|(?:\u001b[\]PX^_]|[\u0090\u0098\u009d\u009e\u009f])[\s\S]*?(?:\u0007|\u001b\\|\u009c|$)|\u001b[ -/]*[0-~]|\u001b/g;

/** A colour or style (SGR) sequence, which GitHub's log viewer renders and the runner ignores. */
// eslint-disable-next-line no-control-regex
const SGR = /^\u001b\[[0-9;:]*m$/;

/**
 * Characters removed from every line: C0 and C1 controls but the tab, and Unicode format
 * characters (bidirectional overrides that make a line read otherwise than it is, zero-width
 * spaces…), except the zero-width joiner that emoji sequences need.
 */
// eslint-disable-next-line no-control-regex
const STRIPPED = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]|(?!\u200d)\p{Cf}/gu;

/** Characters the runner's culture-sensitive search skips, that may remain after STRIPPED (and ESC in a kept colour code). */
const IGNORABLE = String.raw`[\p{Default_Ignorable_Code_Point}\u001b]`;

/** `##[` with anything the runner's search skips in between: the legacy command prefix. */
const LEGACY_PREFIX = new RegExp(`#(${IGNORABLE}*)#(${IGNORABLE}*)\\[`, 'gu');

/** A line whose first non-blank characters are `::`: the current command form. */
const COMMAND_START = new RegExp(`^([\\s${IGNORABLE.slice(1, -1)}]*):(${IGNORABLE}*):`, 'u');

/** Line breaks as the runner splits lines, and the Unicode line and paragraph separators. */
const LINE_BREAK = /\r\n|\r|\n|\u2028|\u2029/;

/**
 * Text as lines of the step log that the runner shows as they are and never runs: split at every
 * line break, escape sequences but colours removed, controls and format characters removed, `##[`
 * anywhere written `# #[`, and a leading `::` written `: :`. Whatever the text, no line of the
 * result is a workflow command.
 */
export function stepLogLines(text: string): string[] {
  return text.split(LINE_BREAK).map(inertLine);
}

/** One line (no line break left in it) made inert; see `stepLogLines`. */
function inertLine(line: string): string {
  const clean = line
    .replace(ESCAPE_SEQUENCE, (seq) => (SGR.test(seq) ? seq : ''))
    // Every ESC left starts a colour code kept above, and stays; every other control goes.
    .replace(STRIPPED, (c) => (c === '\u001b' ? c : ''));
  return clean.replace(LEGACY_PREFIX, '# $1#$2[').replace(COMMAND_START, '$1: $2:');
}

/**
 * Text for a terminal (the CLI): every escape sequence (colours included) and every control
 * character but `\n` and `\t` removed, so a task's log or a cluster's message cannot move the
 * cursor, rewrite earlier lines, retitle the window or hide text.
 */
export function terminalText(text: string): string {
  return text
    .replace(ESCAPE_SEQUENCE, '')
    .replace(/\r\n/g, '\n')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]|(?!\u200d)\p{Cf}/gu, '');
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
    .map((l) => l.replace(ESCAPE_SEQUENCE, '').replace(STRIPPED, ''))
    .join('\n');
}

/**
 * A model of how the GitHub Actions runner finds workflow commands in a step's output, to test
 * that nothing the action prints can become one.
 *
 * Modelled on actions/runner at 258d6c857 (github.com/actions/runner):
 *   - src/Runner.Sdk/ProcessInvoker.cs: stdout and stderr are read with StreamReader.ReadLine,
 *     which ends a line at "\n", "\r" or "\r\n";
 *   - src/Runner.Worker/Handlers/OutputManager.cs (OnDataReceived): a line holding "##[" or "::"
 *     goes to ActionCommandManager.TryProcessCommand;
 *   - src/Runner.Worker/ActionCommandManager.cs: TryParseV2, then TryParse, against the registered
 *     commands (matched case-insensitively), plus the stop token once stop-commands was issued;
 *   - src/Runner.Common/ActionCommand.cs: TryParseV2 (after TrimStart, "::" then the name up to a
 *     space, properties "k=v" split at ",", the data after the next "::") and TryParse (the legacy
 *     form: "##[" ANYWHERE in the line, the name up to a space, properties split at ";", then "]"
 *     and the data), with their unescaping.
 *
 * Where the model is wider than the runner, on purpose (it must never miss a command):
 *   - the runner searches "##[" and "::" with culture-sensitive .NET comparison (ICU), which
 *     skips characters that collate as nothing; the model parses each line twice, as it is and
 *     with every control character (but tab) and every default-ignorable code point removed;
 *   - `anyCommand`: a name the runner does not know yet may become one (a stop-commands token),
 *     so tests can ask for every line that has a command's shape, whatever its name.
 */

/** The commands the runner registers (ActionCommandManager's extensions and stop-commands). */
export const REGISTERED_COMMANDS: readonly string[] = [
  'stop-commands',
  'set-env',
  'set-output',
  'save-state',
  'add-mask',
  'add-path',
  'add-matcher',
  'remove-matcher',
  'debug',
  'warning',
  'error',
  'notice',
  'group',
  'endgroup',
  'echo',
  'internal-set-repo-path',
];

/** One command as the runner would process it. */
export interface ParsedCommand {
  command: string;
  properties: Record<string, string>;
  data: string;
  /** The line it was found on. */
  line: string;
  form: 'v2' | 'legacy';
}

/** Splits output into lines as StreamReader.ReadLine does. */
export function runnerLines(output: string): string[] {
  const lines = output.split(/\r\n|\r|\n/);
  // A trailing line break does not start another line.
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** C#'s char.IsWhiteSpace, for String.TrimStart(). */
const CSHARP_WHITESPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*/;

// eslint-disable-next-line no-control-regex
const COLLATION_IGNORABLE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]|\p{Default_Ignorable_Code_Point}/gu;

function unescape(text: string, mappings: [string, string][]): string {
  let out = text;
  for (const [token, replacement] of mappings) out = out.split(replacement).join(token);
  return out;
}
const DATA: [string, string][] = [['\r', '%0D'], ['\n', '%0A'], ['%', '%25']];
const PROPERTY: [string, string][] = [['\r', '%0D'], ['\n', '%0A'], [':', '%3A'], [',', '%2C'], ['%', '%25']];
const LEGACY: [string, string][] = [[';', '%3B'], ['\r', '%0D'], ['\n', '%0A'], [']', '%5D'], ['%', '%25']];

function known(name: string, anyCommand: boolean): boolean {
  if (name === '') return false;
  return anyCommand || REGISTERED_COMMANDS.some((c) => c.toLowerCase() === name.toLowerCase());
}

/** ActionCommand.TryParseV2. */
function parseV2(message: string, anyCommand: boolean): Omit<ParsedCommand, 'line'> | null {
  const m = message.replace(CSHARP_WHITESPACE, '');
  if (!m.startsWith('::')) return null;
  const end = m.indexOf('::', 2);
  if (end < 0) return null;
  const info = m.slice(2, end);
  const space = info.indexOf(' ');
  const name = space < 0 ? info : info.slice(0, space);
  if (!known(name, anyCommand)) return null;
  const properties: Record<string, string> = {};
  if (space > 0) {
    for (const p of info.slice(space + 1).trim().split(',').filter((x) => x !== '')) {
      const eq = p.indexOf('=');
      // C#'s Split('=', 2, RemoveEmptyEntries): "k=" and "=v" have one part and are dropped.
      if (eq > 0 && eq < p.length - 1) properties[p.slice(0, eq)] = unescape(p.slice(eq + 1), PROPERTY);
    }
  }
  return { command: name, properties, data: unescape(m.slice(end + 2), DATA), form: 'v2' };
}

/** ActionCommand.TryParse (the legacy `##[name k=v;k=v]data` form, anywhere in the line). */
function parseLegacy(message: string, anyCommand: boolean): Omit<ParsedCommand, 'line'> | null {
  const prefix = message.indexOf('##[');
  if (prefix < 0) return null;
  const rb = message.indexOf(']', prefix);
  if (rb < 0) return null;
  const info = message.slice(prefix + 3, rb);
  const space = info.indexOf(' ');
  const name = space < 0 ? info : info.slice(0, space);
  if (!known(name, anyCommand)) return null;
  const properties: Record<string, string> = {};
  if (space > 0) {
    for (const p of info.slice(space + 1).split(';').filter((x) => x !== '')) {
      const eq = p.indexOf('=');
      if (eq > 0 && eq < p.length - 1) properties[p.slice(0, eq)] = unescape(p.slice(eq + 1), LEGACY);
    }
  }
  return { command: name, properties, data: unescape(message.slice(rb + 1), LEGACY), form: 'legacy' };
}

/** The command a line is, or null: OutputManager.OnDataReceived → TryParseV2 → TryParse. */
export function parseCommandLine(line: string, options: { anyCommand?: boolean } = {}): ParsedCommand | null {
  const anyCommand = options.anyCommand ?? false;
  for (const view of [line, line.replace(COLLATION_IGNORABLE, '')]) {
    if (!view.includes('##[') && !view.includes('::')) continue;
    const found = parseV2(view, anyCommand) ?? parseLegacy(view, anyCommand);
    if (found !== null) return { ...found, line };
  }
  return null;
}

/** Every command in a step's output (stdout or stderr), in order. */
export function parseCommands(output: string, options: { anyCommand?: boolean } = {}): ParsedCommand[] {
  return runnerLines(output)
    .map((l) => parseCommandLine(l, options))
    .filter((c): c is ParsedCommand => c !== null);
}

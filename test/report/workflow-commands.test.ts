import { describe, expect, it } from 'vitest';
import { stepLogLines, terminalText, workflowCommand } from '../../src/report/workflow-commands.ts';
import { parseCommandLine, parseCommands, runnerLines } from '../helpers/runner-commands.ts';
import { prng } from '../helpers/prng.ts';

describe('the model of the runner parser (test/helpers/runner-commands.ts)', () => {
  // The cases of actions/runner's own src/Test/L0/Worker/ActionCommandL0.cs.
  it.each([
    ['##[do-something k1=v1;]msg', { command: 'do-something', properties: { k1: 'v1' }, data: 'msg' }],
    ['##[do-something]', { command: 'do-something', properties: {}, data: '' }],
    ['##[do-something k1=%3B=%0D=%0A=%5D;]%3B-%0D-%0A-%5D', { command: 'do-something', properties: { k1: ';=\r=\n=]' }, data: ';-\r-\n-]' }],
    ['##[do-something k1=;k2=;]', { command: 'do-something', properties: {}, data: '' }],
    ['::do-something k1=v1,::msg', { command: 'do-something', properties: { k1: 'v1' }, data: 'msg' }],
    ['::do-something::', { command: 'do-something', properties: {}, data: '' }],
    ['::do-something k1=;=%2C=%0D=%0A=]=%3A,::;-%0D-%0A-]-:-,', { command: 'do-something', properties: { k1: ';=,=\r=\n=]=:' }, data: ';-\r-\n-]-:-,' }],
    ['::do-something k1=;=%252C=%250D=%250A=]=%253A,::;-%250D-%250A-]-:-,', { command: 'do-something', properties: { k1: ';=%2C=%0D=%0A=]=%3A' }, data: ';-%0D-%0A-]-:-,' }],
    ['::do-something k1=,k2=,::', { command: 'do-something', properties: {}, data: '' }],
    ['   ::do-something k1=v1,::msg', { command: 'do-something', properties: { k1: 'v1' }, data: 'msg' }],
  ])('parses %j as the runner does', (line, want) => {
    expect(parseCommandLine(line, { anyCommand: true })).toMatchObject(want);
  });

  it('finds the legacy form anywhere in a line, and the current form only at its start', () => {
    expect(parseCommandLine('[task] ##[add-mask]secret')).toMatchObject({ command: 'add-mask', data: 'secret', form: 'legacy' });
    expect(parseCommandLine('[task] prefix ##[stop-commands]token')).toMatchObject({ command: 'stop-commands', data: 'token' });
    expect(parseCommandLine('   >>>   ::add-mask::x')).toBeNull();
    expect(parseCommandLine('[task] ::add-mask::x')).toBeNull();
    expect(parseCommandLine('\u3000::add-mask::x')).toMatchObject({ command: 'add-mask' });
    // Registered names only (case-insensitive), unless any name is asked for.
    expect(parseCommandLine('##[nothing]x')).toBeNull();
    expect(parseCommandLine('##[ADD-MASK]x')).toMatchObject({ command: 'ADD-MASK' });
    expect(parseCommandLine('##[nothing]x', { anyCommand: true })).toMatchObject({ command: 'nothing' });
  });

  it('splits lines at \\n, \\r and \\r\\n, as StreamReader.ReadLine does', () => {
    expect(runnerLines('a\rb\r\nc\nd\n')).toEqual(['a', 'b', 'c', 'd']);
    expect(parseCommands('[t] x\r::add-mask::y\n')).toMatchObject([{ command: 'add-mask', data: 'y' }]);
  });

  it('sees through characters a culture-sensitive search skips', () => {
    expect(parseCommandLine('#\u200b#[add-mask]x')).toMatchObject({ command: 'add-mask' });
    expect(parseCommandLine('\u0000::add-mask::x')).toMatchObject({ command: 'add-mask' });
  });
});

/** Pieces hostile text is made of: every way into a command we know of, and noise. */
const PIECES = [
  '#', '##', '##[', '[', ']', ':', '::', ' ', '\t', '\n', '\r', '\r\n', '\u2028', '\u0085', '\u00a0', '\u3000',
  '\u0000', '\u0007', '\u001b', '\u001b[31m', '\u001b[0m', '\u001b[2J', '\u001b]0;title\u0007', '\u009b1m', '\u001bP', '\u001b\\',
  '\u00ad', '\u200b', '\u200d', '\u2060', '\ufeff', '\u202e', '\u034f', '\ufe0f', '\u{e0001}',
  'add-mask', 'stop-commands', 'error', 'set-output', 'group', 'echo', 'token', '%0A', '%25', ';', ',', '=', 'x',
];

function hostile(random: () => number, length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += PIECES[Math.floor(random() * PIECES.length)];
  return s;
}

describe('stepLogLines: text printed to the step log', () => {
  it.each([
    ['the legacy form anywhere', '[task] ##[add-mask]failed'],
    ['stop-commands', '##[stop-commands]token'],
    ['a line break then the current form', 'image: busybox\n::add-mask::x'],
    ['a carriage return then the current form', 'x\r::error::forged'],
    ['leading blanks', ' \t\u3000::warning::forged'],
    ['a zero-width space inside the prefix', '#\u200b#[add-mask]x'],
    ['an escape sequence inside the prefix', '#\u001b[2J#[add-mask]x'],
    ['a colour code after the prefix', '##\u001b[31m[add-mask]x'],
    ['a NUL before the current form', '\u0000::add-mask::x'],
    ['a line separator', 'x\u2028::add-mask::y'],
  ])('makes %s inert', (_name, text) => {
    const out = stepLogLines(text).join('\n');
    expect(parseCommands(out, { anyCommand: true })).toEqual([]);
  });

  it('keeps ordinary text and emoji as they are', () => {
    expect(stepLogLines('[extract] ok: 3 rows, 1 # comment [x] 👨\u200d👩\u200d👧 ❤\ufe0f 👍🏽')).toEqual(['[extract] ok: 3 rows, 1 # comment [x] 👨\u200d👩\u200d👧 ❤\ufe0f 👍🏽']);
    expect(stepLogLines('a\nb')).toEqual(['a', 'b']);
  });

  /** The step log as a reader sees it: escape sequences rendered (gone), invisible characters unseen. */
  // eslint-disable-next-line no-control-regex
  const viewer = (text: string) => text.replace(/\u001b\[[0-?]*[ -/]*[@-~]/g, '').replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]|\p{Cf}|\p{Default_Ignorable_Code_Point}/gu, '');
  /** A mask applied as the runner applies it: to each line as written, exactly. */
  const runnerMask = (lines: string[], secret: string) => lines.map((l) => l.split(secret).join('***'));

  it.each([
    ['a colour code', '\u001b[0m'],
    ['a colour that conceals', '\u001b[8m'],
    ['a zero-width space', '\u200b'],
    ['a zero-width joiner', '\u200d'],
    ['a variation selector', '\ufe0f'],
    ['a combining grapheme joiner', '\u034f'],
    ['a soft hyphen', '\u00ad'],
    ['a Hangul filler', '\u3164'],
    ['a NUL', '\u0000'],
    ['an OSC 8 hyperlink', '\u001b]8;;https://example.com\u001b\\'],
  ])('leaves the runner a secret split by %s as the reader sees it, so the mask hides it', (_name, piece) => {
    const secret = 'hunter2-Secret';
    const lines = stepLogLines(`[task] token ${secret.slice(0, 6)}${piece}${secret.slice(6)} end`);
    const shown = viewer(runnerMask(lines, secret).join('\n'));
    expect(shown).not.toContain(secret);
    expect(shown).toBe('[task] token *** end');
  });

  it('shows no secret of 5,000 random ones, split by random invisible pieces in random hostile text, once the runner masked it', () => {
    const random = prng(23);
    const pick = <T,>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
    const secretChars = ['a', 'Z', '7', '#', '##', '[', ']', ':', '::', '-', '_', '%', '@', ' ', '*', '`', '"', "'", '\\', '/'];
    const invisible = ['\u001b[31m', '\u001b[0m', '\u001b[8m', '\u001b[1A', '\u001b]8;;x\u0007', '\u009b2K', '\u200b', '\u200d', '\ufe0f', '\u00ad', '\u034f', '\u2060', '\u0000', '\u0007', '\u0085'];
    for (let i = 0; i < 5_000; i++) {
      let secret = '';
      while (secret.length < 8) secret += pick(secretChars);
      secret = secret.trim() + 'x';
      const split = Array.from(secret, (c) => c + (random() < 0.3 ? pick(invisible) : '')).join('');
      const line = `${hostile(random, Math.floor(random() * 4))}${split}${hostile(random, Math.floor(random() * 4))}`;
      const hide = (t: string) => t.split(secret).join('***');
      const lines = stepLogLines(line, hide);
      const shown = viewer(runnerMask(lines, secret).join('\n'));
      if (shown.includes(secret)) throw new Error(`${JSON.stringify(line)} shows ${JSON.stringify(secret)} as ${JSON.stringify(shown)}`);
      expect(parseCommands(lines.join('\n'), { anyCommand: true })).toEqual([]);
    }
  });

  it('hides a known secret first where making the line inert would change it', () => {
    const hide = (t: string) => t.split('pa##[ss:word').join('***');
    expect(stepLogLines('[task] pa##[ss:word and ##[warning]x', hide)).toEqual(['[task] *** and # #[warning]x']);
    expect(stepLogLines('::pa##[ss:word', hide)).toEqual([': :***']);
    // Without the mask the line is still inert (the runner's own masks cannot span the change).
    expect(stepLogLines('[task] pa##[ss:word')).toEqual(['[task] pa# #[ss:word']);
  });

  it('leaves no command in 20,000 random strings of hostile pieces', () => {
    const random = prng(13);
    for (let i = 0; i < 20_000; i++) {
      const text = hostile(random, 1 + Math.floor(random() * 12));
      const out = stepLogLines(text).join('\n');
      const found = parseCommands(out, { anyCommand: true });
      if (found.length > 0) throw new Error(`${JSON.stringify(text)} printed as ${JSON.stringify(out)} is read as ${JSON.stringify(found)}`);
    }
  });
});

describe('workflowCommand: the commands the action issues', () => {
  it('is read back as exactly that command, with its data and properties, whatever they hold', () => {
    const random = prng(17);
    for (let i = 0; i < 5_000; i++) {
      const message = hostile(random, 1 + Math.floor(random() * 10));
      const title = hostile(random, 1 + Math.floor(random() * 6));
      const line = workflowCommand('error', { title, file: 'a.yaml', line: 3 }, message);
      const found = parseCommands(line, { anyCommand: true });
      expect(found).toHaveLength(1);
      expect(found[0]).toMatchObject({ command: 'error', form: 'v2' });
      // The runner shows the text as given, less controls and escape sequences; line breaks stay.
      // eslint-disable-next-line no-control-regex
      const printable = /^(?![\s\S]*(?:\u200d|\u034f|\ufe0f))[^\u0000-\u0008\u000b-\u001f\u007f-\u009f\u00ad\u200b\u2060\ufeff\u202e\u{e0001}\u2028]*$/u;
      // eslint-disable-next-line no-control-regex
      expect(found[0]!.data).toMatch(/^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$/);
      if (printable.test(message)) expect(found[0]!.data).toBe(message.replace(/\r\n|\r/g, '\n'));
      if (printable.test(title) && !/[\r\n]/.test(title)) expect(found[0]!.properties['title']).toBe(title);
    }
  });

  it('keeps a mask value exact', () => {
    const secret = 'p%a:s,s\nword\r##[x]';
    expect(parseCommands(workflowCommand('add-mask', {}, secret))).toMatchObject([{ command: 'add-mask', data: secret }]);
  });
});

describe('terminalText: what the CLI prints', () => {
  it('strips escape sequences and controls, keeping line breaks and tabs', () => {
    expect(terminalText('a\u001b[31mred\u001b[0m\u001b]0;pwned\u0007\tb\r\nc\rd\u0000\u009b2J\u202e')).toBe('ared\tb\ncd');
  });
});

import { describe, expect, it } from 'vitest';
import { codeBlock, codeSpan, escapeMarkdown, escapeMermaidLabel, makeRedactor, mermaidGanttName, stripControl } from '../../src/report/escape.ts';
import { renderDryRunSummary, renderPlanSummary, renderRunSummary } from '../../src/report/summary.ts';
import { mermaidBlocks, parseMermaid } from './mermaid-parse.ts';
import * as f from './fixtures.ts';
import { HOSTILE, hostileRun } from './fixtures.ts';

/**
 * The text with fenced code blocks and code spans removed: GitHub shows their content as
 * written, so only what is outside them can be markup.
 */
function outsideCode(text: string): string {
  const out: string[] = [];
  let fence: string | null = null;
  for (const line of text.split('\n')) {
    const m = /^(`{3,})(\w*)$/.exec(line);
    if (fence === null && m !== null) fence = m[1]!;
    else if (fence !== null && m !== null && m[2] === '' && m[1]!.length >= fence.length) fence = null;
    else if (fence === null) out.push(line.replace(/(`+)(?!`)[\s\S]*?(?<!`)\1(?!`)/g, ''));
  }
  return out.join('\n');
}

/** Structural checks that hold for any summary we write, hostile or not. */
function expectWellFormed(full: string): void {
  const text = outsideCode(full);
  // No raw HTML from the input: the only tags are ours.
  expect(text.split('\n').filter((l) => /<script|<img/i.test(l))).toEqual([]);
  const tags = [...text.matchAll(/<\/?[a-z][^>]*>/gi)].map((m) => m[0]);
  for (const tag of tags) expect(['<details>', '</details>', '<summary>', '</summary>', '<br/>']).toContain(tag.replace(/<details><summary>/, '<details>'));
  expect(text.split('<details>').length).toBe(text.split('</details>').length);
  // Every table row has as many cells as its header (a `|` from input would add one).
  const lines = text.split('\n');
  let cells: number | null = null;
  for (const line of lines) {
    if (!line.startsWith('|')) {
      cells = null;
      continue;
    }
    const count = line.replace(/\\\|/g, '').split('|').length;
    cells ??= count;
    expect(count, line).toBe(cells);
  }
  // Code fences open and close in pairs, with matching lengths.
  const fences: string[] = [];
  for (const line of full.split('\n')) {
    const m = /^(`{3,})(\w*)$/.exec(line);
    if (m === null) continue;
    if (fences.length > 0 && m[2] === '' && m[1]!.length >= fences[fences.length - 1]!.length) fences.pop();
    else if (m[2] !== '' || fences.length === 0) fences.push(m[1]!);
  }
  expect(fences).toEqual([]);
  // No control characters (ANSI escapes, bells) reach the page.
  // eslint-disable-next-line no-control-regex
  expect(text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
}

describe('hostile names, messages and log lines', () => {
  it('cannot break the run summary or its charts', async () => {
    const [i, state, tails] = hostileRun();
    const text = renderRunSummary(i, state, tails, { logTailLines: 50 });
    expectWellFormed(text);
    const charts = mermaidBlocks(text);
    expect(charts).toHaveLength(2);
    for (const c of charts) await parseMermaid(c);
    // Log lines are shown as written, inside a fence longer than their longest backtick run.
    expect(text).toContain('`````text\n</details><script>alert(1)</script>');
    expect(text).toContain('\n```` four backticks ` one\n');
  });

  it('cannot break the plan or dry-run summaries', async () => {
    const [i] = hostileRun();
    const pods = Object.fromEntries(HOSTILE.map((h) => [h, { metadata: { name: h }, spec: { containers: [{ command: HOSTILE }] } }]));
    const plan = renderPlanSummary(i, pods);
    const dry = renderDryRunSummary(
      i,
      HOSTILE.map((h, n) => ({ task: h, pod: HOSTILE[(n + 1) % HOSTILE.length]!, accepted: n % 2 === 0, message: HOSTILE.join('\n') })),
    );
    for (const text of [plan, dry]) {
      expectWellFormed(text);
      for (const c of mermaidBlocks(text)) await parseMermaid(c);
    }
  });

  it('escapes Markdown so the text shows as written', () => {
    expect(escapeMarkdown('a|b')).toBe('a&#124;b');
    expect(escapeMarkdown('</details>')).toBe('&#60;/details&#62;');
    expect(escapeMarkdown('**x**')).toBe('&#42;&#42;x&#42;&#42;');
    expect(escapeMarkdown('create-db')).toBe('create-db');
    expect(escapeMarkdown('- item')).toBe('&#45; item');
  });

  it('fences code with more backticks than any run inside', () => {
    expect(codeSpan('a`b')).toBe('``a`b``');
    expect(codeSpan('`x`')).toBe('`` `x` ``');
    expect(codeSpan('a|b')).toBe('`a\\|b`');
    expect(codeBlock(['x', '````', 'y'])).toBe('`````text\nx\n````\ny\n`````');
    expect(codeSpan('')).toBe('` `');
  });

  it('makes Mermaid labels and Gantt names safe', async () => {
    expect(escapeMermaidLabel('a"b]c')).toBe('a#34;b#93;c');
    expect(mermaidGanttName('a: b # c ; d %% e')).toBe('a - b _ c _ d __ e');
    for (const h of HOSTILE) {
      await parseMermaid(`flowchart LR\n  t0["${escapeMermaidLabel(h)}"]`);
      await parseMermaid(`gantt\n  dateFormat x\n  section ${mermaidGanttName(h)}\n    ${mermaidGanttName(h)} :b0, 1000, 2000`);
    }
  });
});

describe('stripControl', () => {
  it('removes an escape string left open only up to the end of its line, so it cannot hide the lines after it', () => {
    expect(stripControl('\u001b]0;title\nthe real error')).toBe(' the real error');
    expect(stripControl('mojibake \u009d here\nnext line')).toBe('mojibake  next line');
    expect(stripControl('a \u001b]8;;https://x\u001b\\link\u001b]8;;\u001b\\ b')).toBe('a link b');
  });
});

describe('secrets', () => {
  const secret = 's3cr3t-P@ss';
  const b64 = Buffer.from(secret).toString('base64');

  it('are redacted, with their base64 forms, from everything in the summary', () => {
    const state = f.failureState();
    state.tasks[2]!.attempts[2]!.outcome!.message = `auth failed for password ${secret}`;
    const tails = { 'migrate-data': [`connecting with ${secret}`, `header: Basic ${b64}`, `embedded x${Buffer.from(`:${secret}`).toString('base64')}`] };
    const i = f.info();
    i.params = { password: secret };
    const text = renderRunSummary(i, state, tails, { logTailLines: 50, secrets: [secret] });
    expect(text).not.toContain(secret);
    expect(text).not.toContain(b64.slice(0, 12));
    expect(text).toContain('connecting with ***'); // in a code block: as written
    expect(text).toContain('```text\nauth failed for password ***\n```'); // a cluster's message: as written
    expect(text).toContain('`password` | `***`');
  });

  it('are redacted from plan and dry-run summaries', () => {
    const i = f.info(f.clickhouseSpec(), 'plan');
    i.params = { token: secret };
    const plan = renderPlanSummary(i, { report: { env: [{ name: 'X', value: secret }] } }, { secrets: [secret] });
    const dry = renderDryRunSummary(i, [{ task: 'report', pod: 'p', accepted: false, message: `bad ${secret}` }], { secrets: [secret] });
    expect(plan).not.toContain(secret);
    expect(dry).not.toContain(secret);
    expect(dry).toContain('| `bad ***` |');
  });

  /** The summary as GitHub shows it: numeric entities decoded, escape sequences and invisible characters unseen. */
  const shown = (markdown: string) =>
    markdown
      .replace(/&#(\d+);/g, (_m, n: string) => String.fromCodePoint(Number(n)))
      .replace(/&amp;/g, '&')
      // eslint-disable-next-line no-control-regex
      .replace(/\u001b\[[0-?]*[ -/]*[@-~]/g, '')
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]|\p{Cf}|\p{Default_Ignorable_Code_Point}/gu, '');

  it.each([
    ['a colour code', '\u001b[31m'],
    ['a zero-width space', '\u200b'],
    ['a zero-width joiner', '\u200d'],
    ['a variation selector', '\ufe0f'],
    ['a soft hyphen', '\u00ad'],
    ['a NUL', '\u0000'],
  ])('are redacted from the summary when %s splits them (escaping would hide them from a later mask)', (_name, piece) => {
    const split = `${secret.slice(0, 5)}${piece}${secret.slice(5)}`;
    const state = f.failureState();
    state.tasks[2]!.attempts[2]!.outcome!.message = `auth failed for password ${split}`;
    const tails = { 'migrate-data': [`connecting with ${split}`] };
    const text = renderRunSummary(f.info(), state, tails, { logTailLines: 50, secrets: [secret] });
    // The replacer a runner seam applies to the finished Markdown cannot see the escaped form.
    const after = makeRedactor([secret])(text);
    expect(shown(after)).not.toContain(secret);
    expect(text).toContain('auth failed for password ***');
    expect(text).toContain('connecting with ***');
  });

  it('leave a secret the action does not know, in a message from the cluster or a task, as written, so the runner masks it', () => {
    // A workflow secret the runner masks in the summary file, passed in a param with a plain name:
    // the action cannot redact it; it must not write it in another form (entities) either.
    const workflowSecret = 'p@ss_w0rd*with#marks-[x]';
    const mask = (text: string) => text.split(workflowSecret).join('***');
    const state = f.failureState();
    state.tasks[2]!.attempts[1]!.outcome!.message = `rejected ${workflowSecret} in attempt 2`;
    state.tasks[2]!.attempts[2]!.outcome!.message = `auth failed for ${workflowSecret}`;
    const run = renderRunSummary(f.info(), state, {}, { logTailLines: 50 });
    const dry = renderDryRunSummary(f.info(f.clickhouseSpec(), 'dry-run'), [{ task: 'report', pod: 'p', accepted: false, message: `admission webhook denied: env X=${workflowSecret}` }]);
    for (const text of [run, dry]) {
      expect(shown(mask(text))).not.toContain(workflowSecret);
      expect(shown(mask(text))).not.toContain('p@ss');
    }
    expect(run).toContain('auth failed for ***'.replace('***', workflowSecret));
  });

  it('leave a long workflow secret in a planned pod on one line, so the runner masks it', () => {
    const workflowSecret = `correct horse battery staple ${'x'.repeat(90)} end`;
    const plan = renderPlanSummary(f.info(f.clickhouseSpec(), 'plan'), { report: { env: [{ name: 'NOTE', value: workflowSecret }] } });
    expect(plan).toContain(`value: ${workflowSecret}`);
    expect(shown(plan.split(workflowSecret).join('***'))).not.toContain('correct horse');
  });

  it('redactor finds a secret through escape sequences and invisible characters, and only a whole one', () => {
    const redact = makeRedactor([secret]);
    expect(redact(`a s3cr\u200b3t-\u001b[0mP@ss b`)).toBe('a *** b');
    expect(redact(`a s3cr\u200b3t b`)).toBe(`a s3cr\u200b3t b`);
    expect(redact('a 👨\u200d👩 b')).toBe('a 👨\u200d👩 b');
  });

  it('redactor finds every secret through invisible pieces: longest first, each occurrence, astral characters, one inside another', () => {
    const redact = makeRedactor(['ab🔑cd-long-secret', 'cd-long']);
    expect(redact('x a\u200bb🔑\u001b[31mcd-long-secret y cd-lo\u00adng z a\u200bb🔑cd-long-secret')).toBe('x *** y *** z ***');
    // Invisible pieces outside a secret stay where they are.
    expect(redact('\u001b[1mcd-lo\u200bng\u001b[0m!')).toBe('\u001b[1m***\u001b[0m!');
  });

  it('redactor looks through invisible pieces with a key-sized secret in one pass, not one pattern per secret', () => {
    // A kubeconfig's client key: its base64 forms are thousands of characters. Before, each became
    // a pattern with an invisible-run between every two characters, and a 7 KB text with one
    // zero-width space took over half a second per call (every summary, every coloured log line).
    const key = Array.from({ length: 1600 }, (_, i) => String.fromCharCode(65 + ((i * 7) % 26))).join('');
    const redact = makeRedactor([key]);
    const text = `${'| task | ✅ | 12s |\n'.repeat(400)}key: ${key.slice(0, 800)}\u200b${key.slice(800)}\n`;
    expect(redact(text)).toBe(`${'| task | ✅ | 12s |\n'.repeat(400)}key: ***\n`);
  });

  it('redactor leaves text alone without secrets and ignores empty ones', () => {
    expect(makeRedactor([])('abc')).toBe('abc');
    expect(makeRedactor([''])('abc')).toBe('abc');
  });
});

/**
 * A third hostile pass over the spec: positions (columns, byte order marks, line ends, block
 * scalars) and YAML features that change a value without a word (directives, tags, keys that are
 * numbers, names that differ only in case). Each `describe` is one class of defect, each found
 * failing before its fix.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSpec } from '../../src/spec/load.ts';
import { parseSpec } from '../../src/spec/parse.ts';
import { resolveParams } from '../../src/spec/params.ts';
import { TextPositions } from '../../src/spec/position.ts';
import { closestMatch, editDistance } from '../../src/spec/suggest.ts';

const parse = (text: string) => parseSpec(text, 'dag.yaml');
const messages = (text: string) => parse(text).issues.map((i) => `${i.line}:${i.col} ${i.message}`);
const head = 'version: 1\nname: x\ntasks:\n  a:\n    image: busybox\n';

/** The text at an issue's line and column: what an editor's "go to line:column" shows. */
function textAt(text: string, line: number, col: number): string {
  const l = text.replace(/^\ufeff/, '').split(/\r?\n/)[line - 1]!;
  return [...l].slice(col - 1).join('');
}

describe('a column counts characters, as an editor and an annotation show them', () => {
  it.each([
    ['emoji (two UTF-16 code units each)', '😀😀'],
    ['CJK (three UTF-8 bytes each)', '日本語'],
    ['an astral CJK character and a combining accent', '𠜎é'],
    ['a tab', '\t'],
  ])('after %s on the same line', (_what, before) => {
    const text = `${head}    env: {E: "${before}", F: "{{ params.nope }}"}\n`;
    const [issue] = parse(text).issues;
    expect(issue).toMatchObject({ line: 6, message: expect.stringContaining('unknown param "nope"') });
    expect(textAt(text, issue!.line, issue!.col)).toMatch(/^\{\{ params\.nope \}\}/);
  });

  it('in a YAML syntax error after an emoji', () => {
    const text = `${head}    env: {A: "😀" B}\n`;
    const [issue] = parse(text).issues;
    expect(issue!.message).toMatch(/^YAML syntax error: /);
    expect(textAt(text, issue!.line, issue!.col)).toBe('B}');
  });

  it('not counting a UTF-8 byte order mark on line 1 (editors do not show it)', () => {
    const text = '\ufeffversion: "1"\nname: x\ntasks:\n  a: {image: busybox}\n';
    expect(messages(text)).toEqual([expect.stringMatching(/^1:10 version: expected the number 1/)]);
    expect(messages('\ufeffversion: 1\nname: x\ntasks:\n  a: {image: busybox}\n')).toEqual([]);
  });

  it('with CRLF line ends, as with LF', () => {
    const lf = `${head}    retries: {limit: abc}\n`;
    expect(messages(lf.replace(/\n/g, '\r\n'))).toEqual(messages(lf));
    expect(messages(lf)).toEqual([expect.stringMatching(/^6:22 /)]);
  });

  it('of a byte that is not UTF-8, after an emoji', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'pod-dag-col-'));
    await writeFile(path.join(dir, 'dag.yaml'), Buffer.concat([Buffer.from(`${head}    env: {A: "😀`), Buffer.from([0xe9]), Buffer.from('"}\n')]));
    expect((await loadSpec('dag.yaml', dir)).issues.map((i) => `${i.line}:${i.col}`)).toEqual(['6:16']);
  });

  it('TextPositions: line starts, astral characters, a BOM', () => {
    const p = new TextPositions('\ufeffab\n😀x\r\nz');
    expect(p.at(1)).toEqual({ line: 1, col: 1 });
    expect(p.at(6)).toEqual({ line: 2, col: 2 });
    expect(p.at(9)).toEqual({ line: 3, col: 1 });
  });
});

describe('an error inside a string that spans lines points at its character', () => {
  it.each([
    ['a literal block scalar (|) with a comment on its header', '    command:\n      - |  # run it\n        echo hi\n        echo {{ params.nope }}\n', 9, 14],
    ['a literal block scalar with an indentation indicator', '    command:\n      - |2\n          echo {{ params.nope }}\n', 8, 16],
    ['a folded block scalar (>) in a condition', '    if: >\n      success() &&\n      params.nope == 1\n', 8, 7],
    ['a plain scalar folded over two lines', '    env:\n      A: echo one\n        two {{ params.nope }}\n', 8, 13],
    ['a double-quoted scalar over two lines', '    env:\n      A: "echo one\n        two {{ params.nope }}"\n', 8, 13],
    ['a double-quoted scalar with escapes before it', '    env:\n      A: "a\\tb\\u00e9\\U0001F600 {{ params.nope }}"\n', 7, 32],
    ['a single-quoted scalar with a doubled quote before it', "    env:\n      A: 'it''s {{ params.nope }}'\n", 7, 17],
  ])('in %s', (_what, task, line, col) => {
    const text = head + task;
    const [issue] = parse(text).issues;
    expect(issue).toMatchObject({ line, col, message: expect.stringContaining('"nope"') });
    expect(textAt(text, line, col)).toMatch(/^(\{\{ )?params\.nope/);
  });
});

describe('line ends and indentation', () => {
  it('refuses lone carriage returns (old Mac line ends), which the parser reads as one line, saying how to save the file', () => {
    expect(messages('version: 1\rname: x\rtasks:\r  a:\r    image: busybox\r')).toEqual([
      expect.stringMatching(/^1:11 line 1 ends with a lone carriage return .*save the file with LF \(or CRLF\) line ends/),
    ]);
  });

  it('points at the quote that is never closed, not at the end of the file where the parser notices (and says nothing more there)', () => {
    expect(messages('version: 1\nname: "x\ntasks:\n  a:\n    image: busybox\n')).toEqual([
      '2:7 YAML syntax error: Missing closing "quote: the quote opened here is never closed, so the value runs to the end of the file; add the closing "',
    ]);
    expect(messages(`version: 1\nname: x\ntasks:\n  a: {image: 'busybox, needs: [b]}\n  b: {image: busybox}\n`)).toEqual([expect.stringMatching(/^4:14 YAML syntax error: Missing closing 'quote: the quote opened here/)]);
  });

  it('says to indent with spaces where a tab indents', () => {
    expect(messages('version: 1\nname: x\ntasks:\n  a:\n\timage: busybox\n')).toEqual([
      expect.stringMatching(/^5:1 YAML syntax error: Tabs are not allowed as indentation; indent with spaces/),
    ]);
  });

  it('says what to do about common syntax errors', () => {
    expect(messages(`${head}    command: [echo\n`).join('\n')).toMatch(/; close the bracket/);
    expect(messages(`${head}   command: [echo]\n`).join('\n')).toMatch(/; align this line with the keys above it/);
    expect(messages(`${head}    env: {A: @x}\n`).join('\n')).toMatch(/; quote the value/);
  });
});

describe('YAML features that would change a value without a word', () => {
  it('refuses a %YAML 1.1 directive (yes would be true, 010 would be 8), at the directive', () => {
    expect(messages(`%YAML 1.1\n---\n${head}    env: {A: yes}\n`)).toEqual([expect.stringMatching(/^1:1 the "%YAML 1\.1" directive is not supported: a spec is YAML 1\.2 .*remove the directive/)]);
    expect(messages(`%YAML 1.2\n---\n${head}    env: {A: yes}\n`)).toEqual([]);
  });

  it.each([
    ['!!binary (bytes)', '    env: {A: !!binary aGk=}\n', '6:14'],
    ['!!set (a map of nulls)', '    env: !!set {A, B}\n', '6:10'],
    ['!!timestamp', '    env: {A: !!timestamp 2024-01-01}\n', '6:14'],
    ['a custom tag (dropped)', '    env: {A: !secret x}\n', '6:14'],
    ['a verbatim tag after an anchor', '    env: {A: &v !<tag:x> x}\n', '6:17'],
  ])('refuses the tag %s at the tag, once, with no message about what it made', (_what, task, at) => {
    const tag = /!(!?[\w<>:]+)/.exec(task)![0];
    expect(messages(head + task)).toEqual([`${at} the YAML tag ${tag} is not supported in a spec (only the core ones, such as !!str, are): remove it and write the value itself (in quotes to make it text)`]);
  });

  it('takes the core tags, which say what a plain value says', () => {
    const { spec, issues } = parse(`${head}    env: {A: !!str 1.10, B: !!str yes}\n    retries: {limit: !!int 2}\n`);
    expect(issues).toEqual([]);
    expect(spec!.tasks[0]!.env).toEqual([
      { name: 'A', value: '1.10' },
      { name: 'B', value: 'yes' },
    ]);
  });

  it('refuses an alias whose anchor is not set above it, at the alias (a "YAML error" at 1:1 before)', () => {
    expect(messages('version: 1\nname: x\ntasks:\n  a:\n    image: *img\n  b: {image: &img busybox}\n')).toEqual([
      '5:12 the alias *img names no anchor: set &img on a value above it (an alias repeats a value written before it, in the same file), or correct the name',
    ]);
  });

  it('refuses the same in the params input', () => {
    const spec = { params: [{ name: 'v', default: 'd', required: false, description: null }] };
    expect(resolveParams(spec, '%YAML 1.1\n---\nv: yes').issues).toEqual([expect.stringMatching(/^line 1 of the params input: the "%YAML 1\.1" directive is not supported/)]);
    expect(resolveParams(spec, 'v: !!binary aGk=').issues).toEqual([expect.stringMatching(/^line 1 of the params input: the YAML tag !!binary is not supported/)]);
    expect(resolveParams(spec, 'v: 2024-01-01').params).toEqual({ v: '2024-01-01' });
  });
});

describe('keys YAML reads as numbers or booleans', () => {
  it.each([
    ['a task id 010 (it would become task "10")', 'tasks:\n  010: {image: busybox}\n', '4:3', 'key 010 in tasks is read as the number 10, so it would become "10"; write it in quotes, "010"'],
    ['a label key 1.10', 'tasks:\n  a: {image: busybox, pod: {labels: {1.10: x}}}\n', '4:38', 'key 1.10 in tasks.a.pod.labels is read as the number 1.1'],
    ['a matrix key True', 'tasks:\n  a: {image: busybox, strategy: {matrix: {True: [1]}}}\n', '4:43', 'key True in tasks.a.strategy.matrix is read as the boolean true'],
  ])('refuses %s, at the key, saying to quote it', (_what, tail, at, words) => {
    const [line, col] = at.split(':').map(Number);
    expect(textAt(`version: 1\nname: x\n${tail}`, line!, col!)).toMatch(/^(010|1\.10|True):/);
    expect(messages(`version: 1\nname: x\n${tail}`)).toContainEqual(expect.stringMatching(new RegExp(`^${at} ${words.replace(/[[\]().*"]/g, '\\$&')}`)));
  });

  it('takes keys whose text is the number as written, and quoted ones', () => {
    expect(messages(`${head}    pod: {labels: {1: x, "010": y}}\n    strategy: {matrix: {2: [a]}}\n`)).toEqual([]);
  });
});

describe('names an expression reads ignoring case', () => {
  it('refuses two params that differ only in case, at the second, naming the first', () => {
    expect(messages('version: 1\nname: x\nparams:\n  DB: a\n  db: b\ntasks:\n  a: {image: "busybox:{{ params.db }}"}\n')).toEqual([
      '5:3 param "db" differs from param "DB" (line 4, column 3) only in case; {{ params.<name> }} ignores case, as GitHub\'s contexts do, so the two cannot be told apart: rename one of them',
    ]);
  });

  it('refuses two matrix keys that differ only in case, also across include entries', () => {
    expect(messages(`${head}    strategy: {matrix: {os: [a], OS: [b]}}\n`)).toEqual([expect.stringMatching(/^6:34 matrix key "OS" differs from matrix key "os" \(line 6, column 25\) only in case/)]);
    expect(messages(`${head}    strategy:\n      matrix:\n        os: [a]\n        include: [{Os: b}]\n`)).toEqual([expect.stringMatching(/^9:20 matrix key "Os" differs from matrix key "os" \(line 8, column 9\)/)]);
    expect(messages(`${head}    strategy:\n      matrix:\n        os: [a]\n        include: [{os: a, extra: 1}]\n`)).toEqual([]);
  });
});

describe('a value YAML read as a number or boolean where text was expected', () => {
  it('is shown as written, with what YAML made of it (it said "found 1.1" for image: 1.10)', () => {
    expect(messages('version: 1\nname: x\ntasks:\n  a:\n    image: 1.10\n')).toEqual([
      '5:12 tasks.a.image: expected a container image reference, found 1.10 (which YAML reads as the number 1.1; write it in quotes if you meant the text "1.10")',
    ]);
    expect(messages('version: 1\nname: x\ntasks:\n  "010": {image: busybox}\n  b: {image: busybox, needs: [010]}\n')).toEqual([
      expect.stringMatching(/^5:31 tasks\.b\.needs\[0\]: expected a task id, found 010 \(which YAML reads as the number 10; write it in quotes/),
    ]);
  });

  it('a number as written is shown as it is', () => {
    expect(messages(`${head}    retries: {limit: -1}\n`)).toEqual([expect.stringMatching(/found -1$/)]);
  });
});

describe('hostile sizes: what a message quotes, and the work "did you mean" does', () => {
  const K = 'k'.repeat(200_000);
  it.each([
    ['an unknown key', `version: 1\nname: x\ntasks:\n  a: {image: busybox, "${K}": 1}\n`],
    ['a task id', `version: 1\nname: x\ntasks:\n  ? ${K}\n  : {image: busybox}\n`],
    ['a needs entry', `${head}    needs: [${K}]\n`],
    ['a tag', `${head}    env: {A: !${K} x}\n`],
    ['an alias', `${head}    env: {A: *${K}}\n`],
  ])('a 200,000-character %s is quoted by its start and end, not whole', (_what, text) => {
    const { issues } = parse(text);
    expect(issues.length).toBeGreaterThan(0);
    for (const i of issues) {
      expect(i.message.length).toBeLessThan(600);
      expect(i.path.length).toBeLessThan(600);
      expect(i.message).toMatch(/k…\(200,?00[0-9] characters\)…k/);
    }
  });

  it('reports every one of 2,000 wrong needs among 2,000 near-identical task ids (minutes of edit distances before)', () => {
    const id = (i: number) => `t${String(i).padStart(5, '0')}-${'x'.repeat(33)}`;
    const text = 'version: 1\nname: x\ntasks:\n' + Array.from({ length: 2000 }, (_, i) => `  ${id(i)}: {image: busybox, needs: [${id(i).replace('t', 'q')}]}\n`).join('');
    const { issues } = parse(text);
    expect(issues).toHaveLength(2000);
    expect(issues[0]!.message).toContain(`needs "q00000-${'x'.repeat(33)}", which is not a task; did you mean "t00000-`);
  });
});

describe('editDistance and closestMatch', () => {
  it('stop early past a bound, and agree with the full distance within it', () => {
    for (const [a, b, d] of [
      ['retries', 'retires', 1],
      ['needs', 'need', 1],
      ['abc', '', 3],
      ['', 'ab', 2],
      ['kitten', 'sitting', 3],
    ] as const) {
      expect(editDistance(a, b)).toBe(d);
      expect(editDistance(a, b, d)).toBe(d);
      expect(editDistance(a, b, d - 1)).toBe(d);
    }
    expect(editDistance('a'.repeat(50), 'b'.repeat(50), 3)).toBe(4);
  });

  it('suggest nothing for a word longer than any name', () => {
    expect(closestMatch('retries'.repeat(20), ['retries'.repeat(20) + 'x'])).toBeNull();
    expect(closestMatch('retires', ['retries', 'timeout'])).toBe('retries');
  });
});

describe('text where a number or a boolean is expected says what to write', () => {
  it.each([
    ['a quoted number', '    retries: {limit: "3"}\n', '6:22 tasks.a.retries.limit: expected a whole number >= 0, found "3" (write it without quotes: 3)'],
    ['a quoted boolean', '    env: {A: {secret: s, key: k, optional: "true"}}\n', '6:44 tasks.a.env.A.optional: expected true or false, found "true" (write it without quotes: true)'],
    ['yes, a boolean in YAML 1.1 only', '    env: {A: {secret: s, key: k, optional: yes}}\n', '6:44 tasks.a.env.A.optional: expected true or false, found "yes" (a spec is YAML 1.2, where yes is text, not a boolean: write true)'],
    ['off in a pod field', '    pod: {securityContext: {runAsNonRoot: off}}\n', '6:43 tasks.a.pod.securityContext.runAsNonRoot: expected true or false, found "off" (a spec is YAML 1.2, where off is text, not a boolean: write false)'],
  ])('%s', (_what, task, want) => {
    expect(messages(head + task)).toEqual([want]);
  });
});

describe('null as a key', () => {
  it('is refused as what YAML reads it (an empty value), saying to quote it, once', () => {
    expect(messages('version: 1\nname: x\ntasks:\n  null: {image: busybox}\n')).toEqual([
      `4:3 key null in tasks is read as an empty value (YAML's null), not as a name; write it in quotes, "null", to use it as a name`,
    ]);
    expect(messages(`${head}    env: {~: x}\n`)).toEqual([`6:11 key ~ in tasks.a.env is read as an empty value (YAML's null), not as a name; write it in quotes, "~", to use it as a name`]);
  });
});

describe('a message is one line', () => {
  it('shows a line break or tab inside a key it quotes as its escape (the log lists one problem per line)', () => {
    const [message] = parse(`${head}    env: {"B\\n::notice::n\\tx": v}\n`).issues.map((i) => i.message);
    expect(message).toBe('environment variable name "B\\n::notice::n\\tx" is not valid: use letters, digits, "_", "-" and ".", not starting with a digit');
    expect(message).not.toMatch(/[\n\t]/);
  });
});

describe('shapes from other tools say how to write them here', () => {
  it('tasks as a list (Argo, Tekton), a command line as one string, a task that needs itself', () => {
    expect(messages('version: 1\nname: x\ntasks:\n  - name: a\n    image: busybox\n')).toEqual([
      '4:3 tasks: expected a map of task id → task, found a list (write each task as a key of tasks, its id, e.g. tasks: {extract: {image: …}}, not as a list item with a name)',
    ]);
    expect(messages(`${head}    command: echo hi\n`)).toEqual([expect.stringMatching(/found "echo hi" \(write a list, e.g\. \[echo, hi\], or \[sh, -c, "echo hi"\] if it needs a shell\)$/)]);
    expect(messages(`${head}    args: "a 'b c'"\n`)).toEqual([expect.stringMatching(/\(write a list, or \[sh, -c, "a 'b c'"\] if it needs a shell\)$/)]);
    expect(messages(`${head}    needs: a\n`)).toEqual(['6:12 task "a" needs itself, so it can never start; remove "a" from its needs']);
  });

  it('an expression error counts its column in characters', () => {
    expect(messages(`${head}    if: "'😀' == (params.x"\n`)).toEqual([expect.stringMatching(/at column 17 of the expression/)]);
  });
});

describe('characters a reader cannot tell apart', () => {
  it('an invisible character in a key is shown as its escape, and named', () => {
    expect(messages(`${head}    ima\u200bge: x\n`)).toEqual([
      '6:5 unknown key "ima\\u200bge" in task "a"; did you mean "image"? (character 4 of the key is an invisible character, U+200B, not an ASCII letter: retype the key)',
    ]);
  });

  it('a look-alike letter (a Cyrillic е in imagе) is named, since the key looks like the one meant', () => {
    expect(messages(`${head}    imag\u0435: x\n`)).toEqual([
      '6:5 unknown key "imag\u0435" in task "a"; did you mean "image"? (character 5 of the key is "\u0435", U+0435, not an ASCII letter: retype the key)',
    ]);
  });

  it('a bidirectional control in a name is shown as its escape, so it cannot reorder the message', () => {
    const [message] = parse(`${head}    env: {"A\u202eB": x}\n`).issues.map((i) => i.message);
    expect(message).toContain('"A\\u202eB"');
    expect(message).not.toMatch(/\u202e/);
  });
});

describe('look-alike letters in names', () => {
  it('a task id or DAG name with a Cyrillic letter names it, instead of suggesting a mangled name', () => {
    expect(messages('version: 1\nname: n\u0430me\ntasks:\n  \u0435xtract: {image: busybox}\n')).toEqual([
      expect.stringMatching(/^2:7 DAG name "n\u0430me" is not valid: .*\(it is used in pod names and labels\) \(character 2 of the name is "\u0430", U\+0430, not an ASCII letter: retype the name\)$/),
      expect.stringMatching(/^4:3 task id "\u0435xtract" is not valid: .*label values\) \(character 1 of the id is "\u0435", U\+0435, not an ASCII letter: retype the id\)$/),
    ]);
  });
});

describe('a syntax error in the params input', () => {
  it('says on which line of the input, and what to do', () => {
    const spec = { params: [{ name: 'v', default: 'd', required: false, description: null }] };
    expect(resolveParams(spec, 'v: a\n\tw: b').issues).toEqual([
      'the params input is not valid YAML or JSON: line 2: Tabs are not allowed as indentation; indent with spaces (YAML does not allow tabs in indentation: set your editor to insert spaces in YAML files)',
    ]);
    expect(resolveParams(spec, 'v: a: b').issues).toEqual([expect.stringMatching(/^the params input is not valid YAML or JSON: line 1: Nested mappings .*; a value that holds ": " must be quoted/)]);
  });
});

describe('a duplicate key on one line', () => {
  it('names the column of the first, not only its line', () => {
    expect(messages(`${head}    env: {A: 1, A: 2}\n`)).toEqual(['6:17 duplicate key "A" in tasks.a.env (first defined at line 6, column 11); YAML keys must be unique: remove one, or rename it']);
  });
});

describe('merge keys and aliases YAML cannot use', () => {
  it('a merge key of something else than maps is refused at it (a "YAML error" at 1:1 before)', () => {
    expect(messages(`${head}    <<: 1\n`)).toEqual(['6:9 the merge key << in task "a" takes a map, or an alias of one (<<: *common), or a list of them (<<: [*a, *b]); found the value 1']);
    expect(messages(`${head}    <<: [{timeout: 1m}, [x]]\n`)).toEqual([expect.stringMatching(/^6:25 the merge key << in task "a" takes a map.*; found a list$/)]);
    expect(messages('version: 1\nname: x\nx-s: &s hello\ntasks:\n  a:\n    <<: *s\n    image: busybox\n')).toEqual([expect.stringMatching(/^6:9 .*found the value "hello"$/)]);
  });

  it('an alias as a key is named as one (it was "a map as a key")', () => {
    expect(messages('version: 1\nname: x\nx-k: &k image\ntasks:\n  a:\n    *k : busybox\n')).toEqual(['6:5 an alias as a key (*k) in task "a"; write the key itself: an alias can stand for a value, not for a key']);
  });
});

describe('a core tag on a value it cannot read', () => {
  it('is refused at the tag (the value was silently text: !!bool yes, !!float 3)', () => {
    expect(messages(`${head}    env: {A: !!bool yes}\n    retries: {limit: !!float 3}\n`)).toEqual([
      '6:14 the YAML tag !!bool does not fit the value written after it, which is then read as text; remove the tag and write the value itself (in quotes to make it text)',
      '7:22 the YAML tag !!float does not fit the value written after it, which is then read as text; remove the tag and write the value itself (in quotes to make it text)',
    ]);
    expect(messages(`${head}    retries: {limit: !!int "3"}\n`)).toEqual([]);
  });
});

describe('a YAML syntax error is said once per line', () => {
  it('the first error of a line with what to do; the tokens after it are not each reported again', () => {
    expect(messages('version: 1\nname: x\ntasks:\n  a: {image: busybox}}\n')).toEqual([
      '4:22 YAML syntax error: Unexpected flow-map-end token in YAML stream: "}"; this "}" closes no "{": remove it, or add the "{" where the map starts',
    ]);
    expect(messages('version: 1\nname: x\ntasks:\n  a: {image: busybox}} ] } x\n')).toEqual([expect.stringMatching(/^4:22 YAML syntax error: Unexpected flow-map-end/)]);
  });
});

describe('a misaligned line', () => {
  it('is shown at its first character, not at the start of its indentation', () => {
    expect(messages(`${head}   command: [echo]\n`)).toEqual([expect.stringMatching(/^6:4 YAML syntax error: All mapping items must start at the same column; align this line/)]);
  });
});

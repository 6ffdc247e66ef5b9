/**
 * dist/ as committed is what the runner runs: self-contained (what action.yml names, and every
 * chunk the bundle loads on demand, are there) and with the licences of everything bundled, in
 * dist/index.js and in its chunks alike.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT } from '../harness/action.ts';

const DIST = path.join(ROOT, 'dist');
const read = (file: string): string => readFileSync(path.join(DIST, file), 'utf8');
const chunks = readdirSync(DIST).filter((f) => /^\d+\.index\.js$/.test(f));

describe('dist/', () => {
  it("holds what action.yml runs, and every chunk dist/index.js or a chunk can load", () => {
    const action = parse(readFileSync(path.join(ROOT, 'action.yml'), 'utf8')) as { runs: { main: string; post: string } };
    for (const file of [action.runs.main, action.runs.post]) {
      expect(file.startsWith('dist/')).toBe(true);
      expect(existsSync(path.join(ROOT, file)), file).toBe(true);
    }
    const wanted = new Set<string>();
    for (const file of ['index.js', ...chunks]) {
      for (const m of read(file).matchAll(/__nccwpck_require__\.e\((\d+)\)/g)) wanted.add(`${m[1]}.index.js`);
    }
    expect(wanted.size).toBeGreaterThan(0);
    for (const chunk of wanted) expect(chunks, chunk).toContain(chunk);
  });

  it('dist/index.js leaves the Kubernetes client to a chunk, so plan and validate start without it', () => {
    // A value import of @kubernetes/client-node on the plan path (settings, spec, report) pulls it in.
    expect(read('index.js')).not.toContain('node_modules/@kubernetes/client-node/');
    expect(chunks.some((c) => read(c).includes('node_modules/@kubernetes/client-node/'))).toBe(true);
  });

  it('licenses.txt has an entry for the packages of index.js and of the chunks', () => {
    // An entry starts with the package's name, after a blank line.
    const names = new Set(read('licenses.txt').split('\n').filter((line, i, lines) => i === 0 || lines[i - 1] === ''));
    // In index.js (plan needs them) and in a chunk (only a run loads the Kubernetes client).
    for (const name of ['@actions/core', 'yaml', 'zod', '@kubernetes/client-node', 'ws']) expect(names, name).toContain(name);
    expect(read('index.js')).toContain('parseDocument');
    expect(chunks.some((c) => read(c).includes('makeApiClient'))).toBe(true);
  });
});

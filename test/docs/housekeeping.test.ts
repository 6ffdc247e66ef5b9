/**
 * What a real project carries: a LICENSE matching package.json's licence, an author in
 * action.yml and package.json that agree, and the Node versions stated where tools read them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = join(import.meta.dirname, '../..');
const read = (file: string): string => readFileSync(join(root, file), 'utf8');
const pkg = JSON.parse(read('package.json')) as {
  license: string;
  author: string;
  engines: { node: string };
  devEngines: { runtime: { name: string; version: string } };
  devDependencies: Record<string, string>;
};

describe('project housekeeping', () => {
  it('has a LICENSE with the MIT text package.json names, for its author', () => {
    const license = read('LICENSE');
    expect(pkg.license).toBe('MIT');
    expect(license.startsWith('MIT License\n')).toBe(true);
    expect(license).toContain(`Copyright (c) 2026 ${pkg.author}`);
    expect(license).toContain('THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND');
  });

  it("names the same author in action.yml as in package.json", () => {
    const action = parse(read('action.yml')) as { author: string; runs: { using: string } };
    expect(action.author).toBe(pkg.author);
    expect(action.author).not.toBe('pod-dag-action');
  });

  it('runs on Node 24, which the project brings, while npm ci may run on an older system Node', () => {
    const action = parse(read('action.yml')) as { runs: { using: string } };
    expect(action.runs.using).toBe('node24');
    expect(pkg.engines.node).toBe('>=24');
    expect(pkg.devDependencies.node).toMatch(/^\^24\./);
    // npm skips the root's `engines` check when `devEngines` is there: no EBADENGINE for it.
    expect(pkg.devEngines.runtime).toMatchObject({ name: 'node', version: '>=20.19' });
  });

  it('says which runner versions run node24 actions', () => {
    expect(read('README.md')).toContain('[Actions Runner v2.327.1](https://github.com/actions/runner/releases/tag/v2.327.1) or newer');
  });
});

/**
 * Golden files: the exact expected output of a renderer, kept under test/report/golden/.
 * `UPDATE_GOLDEN=1 npx vitest run test/report` rewrites them; review the diff before committing.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';

const DIR = join(import.meta.dirname, 'golden');

/** Compares `actual` with golden file `name`, or rewrites it when UPDATE_GOLDEN=1. */
export function expectGolden(name: string, actual: string): void {
  const file = join(DIR, name);
  if (process.env.UPDATE_GOLDEN === '1') {
    writeFileSync(file, actual);
    return;
  }
  if (!existsSync(file)) {
    throw new Error(`Golden file ${file} does not exist. Run the test with UPDATE_GOLDEN=1 to create it, then review it.`);
  }
  expect(actual).toBe(readFileSync(file, 'utf8'));
}

/**
 * boundHeapGrowth: the V8 flags it sets at run time take effect (the action cannot set them at
 * start-up). Checked in a process of its own, which churns short-lived objects with a window of
 * survivors, as a wide run does, and reports the size of its young generation.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect, test } from 'vitest';

const HEAP = path.resolve(import.meta.dirname, '../../src/common/heap.ts');

const CHURN = (bound: boolean): string => `
import v8 from 'node:v8';
${bound ? `const { boundHeapGrowth } = await import(${JSON.stringify(HEAP)}); boundHeapGrowth();` : ''}
const keep = [];
for (let i = 0; i < 2e6; i++) {
  keep.push({ a: i, b: 'x' + i, c: [i, { d: i }] });
  if (keep.length > 20000) keep.splice(0, 1000);
}
const space = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
process.stdout.write(String(space.space_size));
`;

async function youngGenerationBytes(bound: boolean): Promise<number> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', CHURN(bound)]);
  return Number(stdout);
}

test('after boundHeapGrowth the young generation stays at its first size however much is allocated', async () => {
  const bounded = await youngGenerationBytes(true);
  expect(bounded).toBeGreaterThan(0);
  expect(bounded).toBeLessThanOrEqual(4 * 2 ** 20);
}, 60_000);

/**
 * boundHeapGrowth: the V8 flags it sets at run time take effect (the action cannot set them at
 * start-up). Checked in a process of its own, which churns short-lived objects with a window of
 * survivors, as a wide run does (in turns of the event loop, as a run's events come), and
 * reports the size of its young generation.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect, test } from 'vitest';
import { YOUNG_BYTES } from '../../src/common/heap.ts';

const HEAP = path.resolve(import.meta.dirname, '../../src/common/heap.ts');

const CHURN = (bound: boolean): string => `
import v8 from 'node:v8';
import { setImmediate as turn } from 'node:timers/promises';
const young = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
const keep = [];
async function churn() {
  for (let i = 0; i < 2e6; i++) {
    keep.push({ a: i, b: 'x' + i, c: [i, { d: i }] });
    if (keep.length > 20000) keep.splice(0, 1000);
    if (i % 2000 === 0) await turn();
  }
}
// Loading modules grows the young generation before a run starts: so does this.
await churn();
const before = young();
${bound ? `const { boundHeapGrowth } = await import(${JSON.stringify(HEAP)}); boundHeapGrowth();` : ''}
await churn();
process.stdout.write(JSON.stringify({ before, after: young() }));
`;

async function youngGeneration(bound: boolean): Promise<{ before: number; after: number }> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', CHURN(bound)]);
  return JSON.parse(stdout) as { before: number; after: number };
}

test('without boundHeapGrowth the young generation grows past the bound (what the test relies on)', async () => {
  const { before, after } = await youngGeneration(false);
  expect(before).toBeGreaterThan(2 * YOUNG_BYTES);
  expect(after).toBeGreaterThan(2 * YOUNG_BYTES);
}, 60_000);

test('boundHeapGrowth gives back the young generation grown before it, and it then stays small', async () => {
  const { before, after } = await youngGeneration(true);
  expect(before).toBeGreaterThan(2 * YOUNG_BYTES);
  expect(after).toBeGreaterThan(0);
  // It stops growing at the first collection past YOUNG_BYTES (told after the event loop's turn).
  expect(after).toBeLessThanOrEqual(2 * YOUNG_BYTES);
}, 60_000);

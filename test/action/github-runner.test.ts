/** The runner seam's stdout: the step log's lines leave in one write per burst, in the order printed. */
import { EventEmitter } from 'node:events';
import { EOL } from 'node:os';
import { afterEach, expect, test, vi } from 'vitest';
import { StdoutLines, githubRunner } from '../../src/action/github-runner.ts';

/** A stdout that records its writes; `backedUp` is what `writableNeedDrain` says. */
class FakeStdout extends EventEmitter {
  writes: string[] = [];
  backedUp = false;
  get writableNeedDrain(): boolean {
    return this.backedUp;
  }
  write(s: string): boolean {
    this.writes.push(s);
    return !this.backedUp;
  }
}
const fakeStdout = (): FakeStdout => new FakeStdout();

afterEach(() => {
  vi.restoreAllMocks();
});

test('lines printed in one burst leave in one write, whole and in order, at the next microtask checkpoint', async () => {
  const out = fakeStdout();
  const lines = new StdoutLines(out as unknown as NodeJS.WriteStream);
  lines.line('[a] one');
  lines.line('[b] two');
  expect(out.writes).toEqual([]);
  await Promise.resolve();
  expect(out.writes).toEqual([`[a] one${EOL}[b] two${EOL}`]);
  lines.line('[a] three');
  await Promise.resolve();
  expect(out.writes).toEqual([`[a] one${EOL}[b] two${EOL}`, `[a] three${EOL}`]);
});

test('64 KiB pending are written at once, without waiting for the burst to end', () => {
  const out = fakeStdout();
  const lines = new StdoutLines(out as unknown as NodeJS.WriteStream);
  const line = 'x'.repeat(999);
  for (let i = 0; i < 66; i++) lines.line(line);
  expect(out.writes).toHaveLength(1);
  expect(out.writes[0]).toBe(`${line}${EOL}`.repeat(66));
});

test('backlog flushes, then answers one promise for all while stdout is backed up, settled on drain', async () => {
  const out = fakeStdout();
  const lines = new StdoutLines(out as unknown as NodeJS.WriteStream);
  lines.line('before');
  expect(lines.backlog()).toBeUndefined();
  expect(out.writes).toEqual([`before${EOL}`]);
  out.backedUp = true;
  const first = lines.backlog();
  expect(first).toBeInstanceOf(Promise);
  expect(lines.backlog()).toBe(first);
  expect(out.listenerCount('drain')).toBe(1);
  let settled = false;
  void first!.then(() => (settled = true));
  await Promise.resolve();
  expect(settled).toBe(false);
  out.backedUp = false;
  out.emit('drain');
  await first;
  expect(settled).toBe(true);
  for (const e of ['drain', 'close', 'error']) expect(out.listenerCount(e)).toBe(0);
  expect(lines.backlog()).toBeUndefined();
});

test('a backlog also ends when stdout closes or fails, and leaves no listener behind', async () => {
  for (const end of ['close', 'error'] as const) {
    const out = fakeStdout();
    const lines = new StdoutLines(out as unknown as NodeJS.WriteStream);
    out.backedUp = true;
    const waiting = lines.backlog()!;
    out.emit(end, new Error('EPIPE'));
    await waiting;
    for (const e of ['drain', 'close', 'error']) expect(out.listenerCount(e)).toBe(0);
  }
});

test('the real runner prints info lines and commands in a burst, in the order they were printed', async () => {
  const writes: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    writes.push(String(s));
    return true;
  });
  const runner = githubRunner();
  runner.info('[extract] one');
  runner.info('[extract] two');
  runner.setSecret('hunter2-hunter2');
  runner.info('[load] three');
  runner.debug('resumed');
  await Promise.resolve();
  vi.restoreAllMocks();
  // Commands leave through the same lines as the text (src/report/workflow-commands.ts builds both).
  expect(writes).toEqual([`[extract] one${EOL}[extract] two${EOL}::add-mask::hunter2-hunter2${EOL}[load] three${EOL}::debug::resumed${EOL}`]);
});

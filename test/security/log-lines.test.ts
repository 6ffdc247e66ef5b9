/**
 * Issue 13, item 8: memory stays bounded whatever a task prints. A 100 MB log line without a
 * newline is kept as its first MAX_LOG_LINE_CHARS characters, the rest counted as it arrives and
 * dropped, and the line is emitted cut, saying how much was not shown.
 */
import { PassThrough } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { expect, test } from 'vitest';
import type { KubeClient } from '../../src/kube/client.ts';
import { LogFollower, MAX_LOG_LINE_CHARS } from '../../src/kube/logs.ts';
import { kubePodApi } from '../../src/kube/pod-api.ts';
import { LiveLogReporter } from '../../src/report/live-log.ts';

const STAMP = '2026-11-24T02:00:01.000000000Z';
const MiB = 1024 * 1024;

/** A log stream: a timestamped line of `size` characters sent in 1 MiB chunks, then a short line. */
function hugeLineClient(size: number, newline: boolean): KubeClient {
  const chunk = 'x'.repeat(MiB);
  return {
    async openStream() {
      const s = new PassThrough();
      void (async () => {
        s.write(`${STAMP} `);
        for (let sent = 0; sent < size; sent += MiB) {
          // Waits for the reader, as a socket does: nothing piles up in the stream itself.
          if (!s.write(chunk)) await new Promise((resolve) => s.once('drain', resolve));
        }
        s.end(newline ? `\n${STAMP} after\n` : '');
      })();
      return s as unknown as IncomingMessage;
    },
  } as unknown as KubeClient;
}

async function follow(client: KubeClient): Promise<string[]> {
  const lines: string[] = [];
  const follower = new LogFollower({ api: kubePodApi(client), namespace: 'ns', pod: 'p', container: 'main', onLine: (t) => lines.push(t), sleep: async () => {} });
  follower.terminated();
  follower.start();
  await follower.done;
  return lines;
}

test('a 100 MB line is kept as its first 16 Ki characters and says how many more were not shown', async () => {
  const lines = await follow(hugeLineClient(100 * MiB, true));
  expect(lines).toHaveLength(2);
  const kept = MAX_LOG_LINE_CHARS - STAMP.length - 1;
  expect(lines[0]).toBe(`${'x'.repeat(kept)} … [line cut: ${100 * MiB - kept} more characters not shown]`);
  expect(lines[1]).toBe('after');
});

test('a 100 MB last line with no newline at all is cut the same way', async () => {
  const lines = await follow(hugeLineClient(100 * MiB, false));
  expect(lines).toHaveLength(1);
  expect(lines[0]!.length).toBeLessThan(MAX_LOG_LINE_CHARS + 100);
  expect(lines[0]).toMatch(/ … \[line cut: \d+ more characters not shown\]$/);
});

test('the step log cuts a long line at 8000 characters and says so without a count it cannot know', () => {
  const out: string[] = [];
  new LiveLogReporter({ write: (l) => out.push(l) }).logLine({ task: 't', attempt: 1, text: 'y'.repeat(9000), time: null } as never);
  expect(out).toEqual([`[t] ${'y'.repeat(8000)}… (line cut at 8000 characters)`]);
});

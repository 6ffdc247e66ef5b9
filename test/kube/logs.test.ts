/**
 * LogFollower: whole lines only, resumed from the last timestamp without repeats (including
 * lines that share a timestamp), a final read after termination, and the tail kept.
 */
import { PassThrough } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { expect, test } from 'vitest';
import type { KubeClient } from '../../src/kube/client.ts';
import { LogFollower } from '../../src/kube/logs.ts';

/** A client whose log requests answer the scripted bodies in order, recording their queries. */
function fakeClient(bodies: string[]): { client: KubeClient; queries: Record<string, string>[] } {
  const queries: Record<string, string>[] = [];
  const client = {
    async openStream(_path: string, query: Record<string, string>) {
      queries.push(query);
      const body = bodies.shift() ?? '';
      const s = new PassThrough();
      queueMicrotask(() => s.end(body));
      return s as unknown as IncomingMessage;
    },
  } as unknown as KubeClient;
  return { client, queries };
}

const T = (n: number) => `2026-11-24T02:00:0${n}.000000000Z`;

test('resumes after a mid-line cut from the last whole line, without repeating lines that share a timestamp', async () => {
  const { client, queries } = fakeClient([
    // follow: two lines at the same instant, then a cut in the middle of the third
    `${T(1)} same\n${T(1)} same\n${T(2)} par`,
    // resumed from T(1), the last whole line: the server repeats both T(1) lines
    `${T(1)} same\n${T(1)} same\n${T(2)} partial line\n${T(3)} last`,
    // after termination: a final read from T(2) brings nothing new but the last line, which has
    // no newline: it is the log's real end
    `${T(2)} partial line\n${T(3)} last`,
  ]);
  const lines: string[] = [];
  const follower: LogFollower = new LogFollower({
    client,
    namespace: 'ns',
    pod: 'p',
    container: 'main',
    tailLines: 2,
    onLine: (text) => {
      lines.push(text);
      if (text === 'partial line') follower.terminated();
    },
    sleep: async () => {},
  });
  follower.start();
  await follower.done;
  expect(lines).toEqual(['same', 'same', 'partial line', 'last']);
  expect(queries.map((q) => [q.follow, q.sinceTime ?? null])).toEqual([
    ['true', null],
    ['true', T(1)],
    ['false', T(2)],
  ]);
  expect(follower.tail()).toEqual(['partial line', 'last']);
});

test('a pod that is gone (404) ends the follower quietly', async () => {
  const client = {
    async openStream() {
      throw Object.assign(new Error('x'), { code: 404, body: '{"kind":"Status","code":404,"reason":"NotFound","message":"pods \\"p\\" not found"}' });
    },
  } as unknown as KubeClient;
  const f = new LogFollower({ client, namespace: 'ns', pod: 'p', container: 'main', onLine: () => {}, sleep: async () => {} });
  f.start();
  await f.done;
  expect(f.lineCount).toBe(0);
});

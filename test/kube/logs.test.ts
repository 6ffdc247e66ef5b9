/**
 * LogFollower: whole lines only, resumed from the last timestamp without repeats (including
 * lines that share a timestamp), a final read after termination, and the tail kept.
 */
import { PassThrough } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { expect, test } from 'vitest';
import type { KubeClient } from '../../src/kube/client.ts';
import { kubePodApi } from '../../src/kube/pod-api.ts';
import { LogFollower, TAIL_LINE_CHARS } from '../../src/kube/logs.ts';

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
  const follower: LogFollower = new LogFollower({ api: kubePodApi(client),
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
  const f = new LogFollower({ api: kubePodApi(client), namespace: 'ns', pod: 'p', container: 'main', onLine: () => {}, sleep: async () => {} });
  f.start();
  await f.done;
  expect(f.lineCount).toBe(0);
});

/** A client whose one log request answers `chunks` (strings or bytes), one `data` event each. */
function chunkedClient(chunks: (string | Buffer)[]): { client: KubeClient; stream: PassThrough } {
  const stream = new PassThrough();
  let first = true;
  const client = {
    async openStream() {
      if (!first) return new PassThrough().end() as unknown as IncomingMessage;
      first = false;
      queueMicrotask(() => {
        for (const c of chunks) stream.write(c);
        stream.end();
      });
      return stream as unknown as IncomingMessage;
    },
  } as unknown as KubeClient;
  return { client, stream };
}

async function follow(client: KubeClient, more: Partial<ConstructorParameters<typeof LogFollower>[0]> = {}): Promise<{ lines: [string, string | null][]; follower: LogFollower }> {
  const lines: [string, string | null][] = [];
  const follower = new LogFollower({ api: kubePodApi(client), namespace: 'ns', pod: 'p', container: 'main', onLine: (text, time) => lines.push([text, time]), sleep: async () => {}, ...more });
  follower.terminated();
  follower.start();
  await follower.done;
  return { lines, follower };
}

test('lines split across chunks, a character split between two chunks, CRLF and unstamped lines come whole', async () => {
  const bytes = Buffer.from(`${T(1)} héllo wörld\r\n${T(2)} second\nno stamp here\n${T(3)} last\n`);
  const at = bytes.indexOf('é') + 1; // inside the two bytes of "é"
  const { client } = chunkedClient([bytes.subarray(0, 5), bytes.subarray(5, at), bytes.subarray(at, at + 30), bytes.subarray(at + 30)]);
  const { lines } = await follow(client);
  expect(lines).toEqual([
    ['héllo wörld', T(1)],
    ['second', T(2)],
    ['no stamp here', null],
    ['last', T(3)],
  ]);
});

test('a resumed read skips what it sends again: older lines (sinceTime is whole seconds), the same instant spelt otherwise', async () => {
  const { client, queries } = fakeClient([
    // follow, cut after two lines of the same instant (and one before)
    `2026-11-24T02:00:00.9Z zero\n2026-11-24T02:00:01.5Z a\n2026-11-24T02:00:01.5Z b\n2026-11-24T02:00:02`,
    // resumed: the server replays the whole second, spells .5 as .500, then goes on
    `2026-11-24T02:00:01.1Z older\n2026-11-24T02:00:01.4999Z older too\n2026-11-24T02:00:01.500Z a\n2026-11-24T02:00:01.500Z b\n2026-11-24T02:00:01.500Z c\n2026-11-24T02:00:01.50001Z d\n2026-11-24T03:00:02+01:00 e, an hour off\n2026-11-24T02:00:02.1Z f\n`,
    '',
  ]);
  const lines: string[] = [];
  const follower: LogFollower = new LogFollower({ api: kubePodApi(client),
    namespace: 'ns',
    pod: 'p',
    container: 'main',
    onLine: (text) => {
      lines.push(text);
      if (text === 'f') follower.terminated();
    },
    sleep: async () => {},
  });
  follower.start();
  await follower.done;
  expect(lines).toEqual(['zero', 'a', 'b', 'c', 'd', 'e, an hour off', 'f']);
  expect(queries[1]?.sinceTime).toBe('2026-11-24T02:00:01.5Z');
  // The resumed stream ended cleanly and the container terminated: it was the whole log.
  expect(queries).toHaveLength(2);
});

/**
 * A client whose log requests answer the scripted responses in order: a body that ends cleanly,
 * or one cut by an error after its text; `onOpen` runs as the request is answered.
 */
function scriptedClient(responses: { body: string; cut?: boolean; onOpen?: () => void }[]): { client: KubeClient; queries: Record<string, string>[] } {
  const queries: Record<string, string>[] = [];
  const client = {
    async openStream(_path: string, query: Record<string, string>) {
      queries.push(query);
      const r = responses.shift() ?? { body: '' };
      r.onOpen?.();
      const s = new PassThrough();
      queueMicrotask(() => {
        if (r.cut) {
          s.write(r.body);
          setImmediate(() => s.destroy(new Error('aborted')));
        } else s.end(r.body);
      });
      return s as unknown as IncomingMessage;
    },
  } as unknown as KubeClient;
  return { client, queries };
}

test('a follow stream the server ended cleanly is the whole log once the container terminated: no second read', async () => {
  for (const when of ['during the stream', 'after it ended'] as const) {
    const { client, queries } = scriptedClient([{ body: `${T(1)} one\n${T(2)} two\n` }]);
    const lines: string[] = [];
    const follower: LogFollower = new LogFollower({
      api: kubePodApi(client),
      namespace: 'ns',
      pod: 'p',
      container: 'main',
      onLine: (text) => {
        lines.push(text);
        if (when === 'during the stream' && text === 'two') follower.terminated();
      },
      // The watch says "terminated" while the follower waits after the stream's end.
      sleep: async () => {
        if (when === 'after it ended') follower.terminated();
      },
    });
    follower.start();
    await follower.done;
    expect(lines, when).toEqual(['one', 'two']);
    expect(queries.map((q) => q.follow), when).toEqual(['true']);
  }
});

test('a follow stream cut by an error is read once more after the container terminated, without repeating lines', async () => {
  const { client, queries } = scriptedClient([
    { body: `${T(1)} one\n${T(2)} two\n`, cut: true },
    { body: `${T(2)} two\n${T(3)} three\n` },
  ]);
  const lines: string[] = [];
  const follower: LogFollower = new LogFollower({
    api: kubePodApi(client),
    namespace: 'ns',
    pod: 'p',
    container: 'main',
    onLine: (text) => {
      lines.push(text);
      if (text === 'two') follower.terminated();
    },
    sleep: async () => {},
  });
  follower.start();
  await follower.done;
  expect(lines).toEqual(['one', 'two', 'three']);
  expect(queries.map((q) => [q.follow, q.sinceTime ?? null])).toEqual([
    ['true', null],
    ['false', T(2)],
    ['false', T(3)],
  ]);
});

test('a follow stream that ended cleanly while the container still runs was cut: it is resumed, following', async () => {
  let follower: LogFollower | null = null;
  const { client, queries } = scriptedClient([
    { body: `${T(1)} one\n` },
    // Resumed: the container goes on, then ends; this stream ends with it.
    { body: `${T(1)} one\n${T(2)} two\n`, onOpen: () => follower?.terminated() },
  ]);
  const lines: string[] = [];
  follower = new LogFollower({ api: kubePodApi(client), namespace: 'ns', pod: 'p', container: 'main', onLine: (text) => lines.push(text), sleep: async () => {} });
  follower.start();
  await follower.done;
  expect(lines).toEqual(['one', 'two']);
  expect(queries.map((q) => [q.follow, q.sinceTime ?? null])).toEqual([
    ['true', null],
    ['true', T(1)],
  ]);
});

test('keeps the last tailLines lines, oldest first', async () => {
  const { client } = chunkedClient([Array.from({ length: 7 }, (_, i) => `${T(i)} line ${i}\n`).join('')]);
  const { follower } = await follow(client, { tailLines: 3 });
  expect(follower.lineCount).toBe(7);
  expect(follower.tail()).toEqual(['line 4', 'line 5', 'line 6']);
});

test('the tail is bounded in characters too: a line longer than TAIL_LINE_CHARS is kept cut, and said so; onLine gets it whole', async () => {
  const long = 'x'.repeat(TAIL_LINE_CHARS + 100);
  const { client } = chunkedClient([`${T(1)} ${long}\n${T(2)} short\n`]);
  const { lines, follower } = await follow(client, { tailLines: 5 });
  expect(lines[0]![0]).toBe(long);
  expect(follower.tail()).toEqual([`${'x'.repeat(TAIL_LINE_CHARS)}… (100 more characters)`, 'short']);
});

test('a released tail is dropped and keeps no later lines; the lines still reach onLine', async () => {
  const { client } = chunkedClient([`${T(1)} one\n`, `${T(2)} two\n`]);
  const lines: string[] = [];
  const follower: LogFollower = new LogFollower({
    api: kubePodApi(client),
    namespace: 'ns',
    pod: 'p',
    container: 'main',
    onLine: (text) => {
      lines.push(text);
      if (text === 'one') {
        expect(follower.tail()).toEqual(['one']);
        follower.releaseTail();
      }
    },
    sleep: async () => {},
  });
  follower.terminated();
  follower.start();
  await follower.done;
  expect(lines).toEqual(['one', 'two']);
  expect(follower.tail()).toEqual([]);
});

test('pauses the stream while the consumer is backed up, and goes on when it has drained', async () => {
  const stream = new PassThrough();
  let opened = 0;
  const client = {
    // The final read after this one brings nothing new.
    async openStream() {
      return (opened++ === 0 ? stream : new PassThrough().end()) as unknown as IncomingMessage;
    },
  } as unknown as KubeClient;
  let release: (() => void) | null = null;
  const backedUp = new Promise<void>((resolve) => (release = resolve));
  let asked = 0;
  const lines: string[] = [];
  let firstLine!: () => void;
  const sawFirstLine = new Promise<void>((resolve) => (firstLine = resolve));
  const follower = new LogFollower({ api: kubePodApi(client),
    namespace: 'ns',
    pod: 'p',
    container: 'main',
    onLine: (text) => {
      lines.push(text);
      firstLine();
    },
    // Backed up after the first chunk only.
    backlog: () => (++asked === 1 ? backedUp : undefined),
    sleep: async () => {},
  });
  follower.terminated();
  follower.start();
  stream.write(`${T(1)} one\n`);
  await sawFirstLine;
  expect(stream.isPaused()).toBe(true);
  stream.write(`${T(2)} two\n`);
  stream.end();
  // Nothing more is read while paused: the second chunk stays in the stream.
  await new Promise<void>((resolve) => setImmediate(resolve));
  expect(lines).toEqual(['one']);
  expect(stream.readableLength).toBeGreaterThan(0);
  release!();
  await follower.done;
  expect(lines).toEqual(['one', 'two']);
});

import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/common/errors.ts';
import { InputError, readEventSchedule, readRunContext, readSettings } from '../../src/action/settings.ts';

const inputs = (values: Record<string, string>) => (name: string) => values[name] ?? '';

describe('readSettings', () => {
  it('applies the documented defaults when only dag is given', () => {
    const s = readSettings(inputs({ dag: '.github/dags/a.yaml' }));
    expect(s).toEqual({
      dag: '.github/dags/a.yaml',
      mode: 'run',
      params: '',
      namespace: null,
      maxParallel: 0,
      keepPods: 'on-failure',
      logTailLines: 50,
      rerun: 'failed',
      concurrency: null,
      concurrencyPolicy: 'wait',
      concurrencyTimeoutMs: 3_600_000,
      retentionMs: 30 * 24 * 3_600_000,
      auth: { kubeconfig: undefined, context: undefined, server: undefined, token: undefined, certificateAuthorityData: undefined },
      logicalDate: null,
      schedule: null,
      backfill: null,
      identity: { runKey: null, leg: null, jobInstance: null },
      api: { qps: 50, burst: 300 },
    });
  });

  it('reads the client rate limit: a rate (decimals allowed), 0 for none, and a burst of at least 1', () => {
    expect(readSettings(inputs({ dag: 'a.yaml', 'api-qps': '0.5', 'api-burst': '10' })).api).toEqual({ qps: 0.5, burst: 10 });
    expect(readSettings(inputs({ dag: 'a.yaml', 'api-qps': '0' })).api).toEqual({ qps: null, burst: 300 });
    expect(() => readSettings(inputs({ dag: 'a.yaml', 'api-qps': '-1' }))).toThrow(/^Invalid input 'api-qps': '-1'. Expected requests per second, a number from 0 to 10,000 .*or 0 to send without a client-side limit/);
    expect(() => readSettings(inputs({ dag: 'a.yaml', 'api-qps': 'fast' }))).toThrow(/^Invalid input 'api-qps': 'fast'/);
    expect(() => readSettings(inputs({ dag: 'a.yaml', 'api-qps': '20000' }))).toThrow(/^Invalid input 'api-qps': '20000'/);
    expect(() => readSettings(inputs({ dag: 'a.yaml', 'api-burst': '0' }))).toThrow(/^Invalid input 'api-burst': '0'. Expected a whole number from 1 to 100,000/);
    expect(() => readSettings(inputs({ dag: 'a.yaml', 'api-burst': '2.5' }))).toThrow(/^Invalid input 'api-burst': '2.5'. Expected a whole number from 1 to 100,000: how many requests may go at once before 'api-qps' paces them\./);
  });

  it('reads the run-date inputs and checks them before anything runs', () => {
    const s = readSettings(inputs({ dag: 'a.yaml', schedule: '0 2 * * *', 'backfill-from': '2026-12-01', 'backfill-to': '2026-12-03', 'backfill-parallel': '2' }));
    expect([s.schedule, s.logicalDate, s.backfill]).toEqual(['0 2 * * *', null, { from: '2026-12-01', to: '2026-12-03', parallel: 2 }]);
    expect(() => readSettings(inputs({ dag: 'a.yaml', 'logical-date': 'yesterday' }))).toThrow(
      `Invalid input 'logical-date': logical-date "yesterday" is not a date; expected YYYY-MM-DD (a UTC day) or a timestamp with a zone such as 2026-12-02T02:00:00Z.`,
    );
    expect(() => readSettings(inputs({ dag: 'a.yaml', schedule: 'every day' }))).toThrow(/^Invalid input 'schedule': schedule "every day" is not a cron expression/);
    expect(() => readSettings(inputs({ dag: 'a.yaml', 'backfill-from': '2026-12-01' }))).toThrow(
      "Inputs 'backfill-from' and 'backfill-to' go together: give both (the first and the last logical date of the backfill), or neither.",
    );
    expect(() => readSettings(inputs({ dag: 'a.yaml', 'backfill-from': '2026-12-03', 'backfill-to': '2026-12-01' }))).toThrow(
      'Invalid backfill: backfill-to (2026-12-01) is before backfill-from (2026-12-03); expected a range in order.',
    );
  });

  it("reads a schedule event's cron from the event file", () => {
    const env = { GITHUB_EVENT_NAME: 'schedule', GITHUB_EVENT_PATH: '/e.json' };
    expect(readEventSchedule(env, () => '{"schedule": "0 2 * * *"}')).toBe('0 2 * * *');
    expect(readEventSchedule({ ...env, GITHUB_EVENT_NAME: 'push' }, () => '{"schedule": "0 2 * * *"}')).toBeNull();
    expect(readEventSchedule(env, () => 'not json')).toBeNull();
  });

  it('reports every bad input at once, naming the input, the value and what is allowed', () => {
    let message = '';
    try {
      readSettings(inputs({ mode: 'dryrun', 'max-parallel': 'four', 'keep-pods': 'sometimes' }));
    } catch (error) {
      expect(error).toBeInstanceOf(InputError);
      message = (error as Error).message;
    }
    expect(message.split('\n')).toEqual([
      `Input 'dag' is required: the path of the DAG spec, e.g. 'dag: .github/dags/nightly.yaml'.`,
      `Invalid input 'mode': 'dryrun'. Expected one of: run, dry-run, plan.`,
      `Invalid input 'max-parallel': 'four'. Expected a whole number >= 0.`,
      `Invalid input 'keep-pods': 'sometimes'. Expected one of: never, on-failure, always.`,
    ]);
  });

  it('reads the re-run and concurrency inputs, and names a bad duration', () => {
    const s = readSettings(inputs({ dag: 'a.yaml', rerun: 'all', concurrency: 'nightly-db', 'concurrency-policy': 'skip', 'concurrency-timeout': '10m', retention: '7d' }));
    expect(s).toMatchObject({ rerun: 'all', concurrency: 'nightly-db', concurrencyPolicy: 'skip', concurrencyTimeoutMs: 600_000, retentionMs: 7 * 24 * 3_600_000 });
    expect(() => readSettings(inputs({ dag: 'a.yaml', retention: 'a week' }))).toThrow(
      `Invalid input 'retention': 'a week'. Expected a duration like "90s", "30m", "1h30m" or "7d".`,
    );
  });

  it('refuses a concurrency name, a namespace, a server URL or CA data that cannot work, before connecting (a UserError, never an internal error)', () => {
    let error: unknown = null;
    try {
      readSettings(inputs({ dag: 'a.yaml', concurrency: '!!!', namespace: 'Data_Pipelines', server: 'k8s:6443', token: 't', 'certificate-authority-data': 'not base64!' }));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message.split('\n')).toEqual([
      `Invalid input 'concurrency': '!!!'. Expected a name with letters or digits, e.g. 'clickhouse-sync'.`,
      `Invalid input 'namespace': 'Data_Pipelines'. Expected a Kubernetes namespace name: lower-case letters, digits and '-', at most 63 characters, starting and ending with a letter or digit.`,
      `Invalid input 'server': 'k8s:6443', which is not an https:// URL (write "https://k8s:6443"). Expected the API server's URL, e.g. https://203.0.113.10:6443.`,
      `Invalid input 'certificate-authority-data': expected the CA certificate in base64 (as a kubeconfig's certificate-authority-data holds it).`,
    ]);
    expect(readSettings(inputs({ dag: 'a.yaml', concurrency: 'Nightly DB', namespace: 'data-pipelines' }))).toMatchObject({ concurrency: 'Nightly DB', namespace: 'data-pipelines' });
  });

  it('refuses a plain http:// server (client-node would refuse it when connecting, in words about a credential plugin)', () => {
    expect(() => readSettings(inputs({ dag: 'a.yaml', server: 'http://k8s:8080', token: 't' }))).toThrow(/^Invalid input 'server': 'http:\/\/k8s:8080', which is plain http:\/\/: the API server is reached over https:\/\/ only/);
  });

  it('names the missing half of server/token', () => {
    expect(() => readSettings(inputs({ dag: 'a.yaml', server: 'https://k8s:6443' }))).toThrow(/'server' was given without 'token'/);
    expect(() => readSettings(inputs({ dag: 'a.yaml', token: 'abc' }))).toThrow(/'token' was given without 'server'/);
  });
});

describe('readRunContext', () => {
  it('reads the runner variables and falls back where they are absent', () => {
    expect(readRunContext({ GITHUB_REPOSITORY: 'o/r', GITHUB_RUN_ID: '7', GITHUB_RUN_ATTEMPT: '2', GITHUB_SERVER_URL: 'https://ghe.example.com/' })).toMatchObject({
      repository: 'o/r',
      runId: '7',
      runAttempt: 2,
      serverUrl: 'https://ghe.example.com',
    });
    expect(readRunContext({})).toMatchObject({ repository: null, runId: null, runAttempt: 1, serverUrl: 'https://github.com' });
  });
});

describe('inputs past what the action can hold', () => {
  const inputs = (values: Record<string, string>) => (name: string) => values[name] ?? '';
  const problem = (values: Record<string, string>) => {
    try {
      readSettings(inputs({ dag: 'a.yaml', ...values }));
    } catch (error) {
      expect(error).toBeInstanceOf(InputError);
      return (error as Error).message;
    }
    return null;
  };

  it('refuses a log-tail-lines past 1,000: each failed task keeps that many lines in memory for a summary of 1 MiB', () => {
    expect(problem({ 'log-tail-lines': '1001' })).toBe(`Invalid input 'log-tail-lines': '1001'. Expected a whole number >= 0 and at most 1,000.`);
    expect(problem({ 'log-tail-lines': '99999999999999999999999' })).toMatch(/at most 1,000\.$/);
    expect(problem({ 'log-tail-lines': '1000' })).toBeNull();
  });

  it('refuses a whole number past what JavaScript holds exactly, saying so', () => {
    expect(problem({ 'max-parallel': '99999999999999999999999' })).toBe(`Invalid input 'max-parallel': '99999999999999999999999'. Expected a whole number >= 0 and at most 9,007,199,254,740,991.`);
  });

  it('refuses a duration past ten years, saying why, and quotes at most 100 characters of any value', () => {
    expect(problem({ 'concurrency-timeout': '99999999999999999999d' })).toBe(
      `Invalid input 'concurrency-timeout': '99999999999999999999d'. Expected a duration like "90s", "30m", "1h30m" or "7d" (it is longer than 3650d, the longest duration accepted).`,
    );
    expect(problem({ retention: 'x'.repeat(5000) })!.length).toBeLessThan(300);
  });
});

describe('the matrix-leg input, bounded', () => {
  const inputs = (values: Record<string, string>) => (name: string) => values[name] ?? '';
  it('refuses a leg nested thousands of levels deep with a message, not an internal error (the run identity walks it)', () => {
    const deep = '{"a":'.repeat(5000) + '1' + '}'.repeat(5000);
    expect(() => readSettings(inputs({ dag: 'a.yaml', 'matrix-leg': deep }))).toThrow(/Invalid input 'matrix-leg': it is nested more than 20 levels deep/);
  });
  it('refuses a leg of more than 64 KiB', () => {
    expect(() => readSettings(inputs({ dag: 'a.yaml', 'matrix-leg': JSON.stringify({ a: 'x'.repeat(70_000) }) }))).toThrow(/it is 70,\d{3} characters long/);
  });
  it('keeps an ordinary leg, objects included', () => {
    expect(readSettings(inputs({ dag: 'a.yaml', 'matrix-leg': '{"region": "eu", "db": {"host": "a", "port": 5432}}' })).identity.leg).toEqual({ region: 'eu', db: { host: 'a', port: 5432 } });
  });
});

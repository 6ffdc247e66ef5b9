/**
 * The run's identity (src/common/run.ts): what tells one run of a DAG from another in the same
 * workflow run, the names it gives (pods, state, labels), the claim that finds out two steps it
 * cannot tell apart, and the inputs it is read from.
 */
import { describe, expect, it } from 'vitest';
import { readIdentityInputs, readRunContext } from '../../src/action/settings.ts';
import { canonicalJson } from '../../src/common/canonical-json.ts';
import { describeLeg, runClaim, runScope, runTitle, type RunContext } from '../../src/common/run.ts';
import { AmbiguousRunError, claimDifferences, emptyRunState, markRunAttempt, parseRunState, serializeRunState } from '../../src/dag/rerun.ts';
import { labelValue, podName, runSelector } from '../../src/kube/pod.ts';
import { runStateLabels, runStateName } from '../../src/kube/run-store.ts';

const base: RunContext = {
  repository: 'octo-org/data-pipelines',
  runId: '1000001',
  runAttempt: 1,
  sha: null,
  ref: null,
  serverUrl: 'https://github.com',
  workflow: 'nightly',
  job: 'sync',
  actor: null,
  eventName: 'schedule',
  step: '__octo-org_pod-dag-action',
  leg: null,
  runKey: null,
};

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

describe('runScope', () => {
  it('is null on the CLI (no job, step, leg or run-key): names stay those of the run id alone', () => {
    expect(runScope({ ...base, job: null, step: null })).toBeNull();
  });

  it('differs for each job, step, matrix leg and run-key, and not with the run id or attempt', () => {
    const scopes = [
      base,
      { ...base, job: 'other' },
      { ...base, step: '__octo-org_pod-dag-action_2' },
      { ...base, leg: { region: 'eu' } },
      { ...base, leg: { region: 'us' } },
      { ...base, runKey: 'us' },
    ].map(runScope);
    expect(new Set(scopes).size).toBe(scopes.length);
    for (const s of scopes) expect(s).toMatch(/^[0-9a-f]{8}$/);
    const other: RunContext = { ...base, runId: '2', runAttempt: 3 };
    expect(runScope(other)).toBe(runScope(base));
  });

  it('does not depend on the order of the matrix keys', () => {
    expect(runScope({ ...base, leg: { a: 1, b: { y: 2, x: 1 } } })).toBe(runScope({ ...base, leg: { b: { x: 1, y: 2 }, a: 1 } }));
    expect(canonicalJson({ b: 1, a: [{ d: 1, c: 2 }] })).toBe('{"a":[{"c":2,"d":1}],"b":1}');
  });
});

describe('names from the identity', () => {
  it('pod names carry the scope and stay valid DNS labels of at most 63, distinct per leg however long the parts', () => {
    const names = ['eu', 'us'].map((region) => {
      const scope = runScope({ ...base, job: `j${'-job'.repeat(24)}`, leg: { region: `${region}${'x'.repeat(300)}` } });
      return podName({ dag: 'd'.repeat(40), runId: '12345678901', scope, runAttempt: 12, task: 't'.repeat(40), attempt: 3, poke: 17 });
    });
    for (const n of names) {
      expect(n.length).toBeLessThanOrEqual(63);
      expect(n).toMatch(DNS_LABEL);
    }
    expect(names[0]).not.toBe(names[1]);
    expect(podName({ dag: 'nightly', runId: '1000001', scope: 'abcd1234', runAttempt: 1, task: 'load', attempt: 1 })).toBe('nightly-1000001-abcd1234-1-load-1');
    expect(podName({ dag: 'nightly', runId: 'local-1', scope: null, runAttempt: 1, task: 'load', attempt: 1 })).toBe('nightly-local-1-1-load-1');
  });

  it('label values longer than 63 are cut with a hash of the whole, so two never share one', () => {
    const a = labelValue(`octo-org/${'r'.repeat(80)}-a`);
    const b = labelValue(`octo-org/${'r'.repeat(80)}-b`);
    for (const v of [a, b]) {
      expect(v.length).toBeLessThanOrEqual(63);
      expect(v).toMatch(LABEL_VALUE);
    }
    expect(a).not.toBe(b);
    expect(labelValue('octo-org/data-pipelines')).toBe('octo-org_data-pipelines');
  });

  it('the selector, the state ConfigMap name and its labels carry the scope', () => {
    expect(runSelector('nightly', '1000001', 'abcd1234', 2)).toBe(
      'app.kubernetes.io/managed-by=pod-dag-action,pod-dag.io/dag=nightly,pod-dag.io/run-id=1000001,pod-dag.io/run-scope=abcd1234,pod-dag.io/run-attempt=2',
    );
    expect(runSelector('nightly', 'local-1', null)).toBe('app.kubernetes.io/managed-by=pod-dag-action,pod-dag.io/dag=nightly,pod-dag.io/run-id=local-1');
    expect(runStateName('nightly', '1000001', 'abcd1234')).toBe('pod-dag-nightly-1000001-abcd1234');
    expect(runStateName('nightly', '1000001')).toBe('pod-dag-nightly-1000001');
    expect(runStateLabels('nightly', '1000001', null, 'abcd1234')['pod-dag.io/run-scope']).toBe('abcd1234');
  });
});

describe('what the user reads', () => {
  it('names the leg and the run-key in the title', () => {
    expect(runTitle('nightly', base)).toBe('nightly');
    expect(runTitle('nightly', { ...base, leg: { region: 'eu', size: 2 } })).toBe('nightly (region: eu, size: 2)');
    expect(runTitle('nightly', { ...base, runKey: 'us' })).toBe('nightly (run-key: us)');
    expect(describeLeg({})).toBeNull();
  });
});

describe('the claim', () => {
  const claim = runClaim({ ...base, jobInstance: '101' }, 'dags/n.yaml', { region: 'eu', token: 's3cret' });

  it('holds the identity in full and a hash of the params, never their values', () => {
    expect(claim).toMatchObject({ job: 'sync', step: '__octo-org_pod-dag-action', leg: null, runKey: null, dag: 'dags/n.yaml' });
    expect(claim['params']).toMatch(/^[0-9a-f]{16}$/);
    expect(JSON.stringify(claim)).not.toContain('s3cret');
  });

  it('a restart (same claim) changes nothing; another claim on the same run attempt is refused, saying how it differs', () => {
    const started = markRunAttempt(emptyRunState('n', '1000001', 1), 1, 10, undefined, claim);
    expect(markRunAttempt(started, 1, 20, undefined, claim)).toBe(started);
    const other = runClaim({ ...base, jobInstance: '102' }, 'dags/n.yaml', { region: 'us', token: 's3cret' });
    let error: unknown;
    try {
      markRunAttempt(started, 1, 20, undefined, other);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(AmbiguousRunError);
    expect((error as AmbiguousRunError).differences).toEqual(["its job's check run (\"101\" there, \"102\" here)", 'its params']);
    // The next run attempt is another step's to claim (params may change between attempts).
    expect(markRunAttempt(started, 2, 30, undefined, other).runAttempts.map((r) => r.claim)).toEqual([claim, other]);
    // The end keeps the claim; a restart after it clears the end but keeps the claim.
    const ended = markRunAttempt(started, 1, 40, 'success');
    expect(ended.runAttempts[0]).toMatchObject({ finishedAt: 40, result: 'success', claim });
    expect(markRunAttempt(ended, 1, 50, undefined, claim).runAttempts[0]).toMatchObject({ finishedAt: null, result: null, claim });
  });

  it('a state written before claims takes the first claim, and the claim survives the JSON round trip', () => {
    const old = markRunAttempt(emptyRunState('n', '1000001', 1), 1, 10);
    const claimed = markRunAttempt(old, 1, 20, undefined, claim);
    expect(claimed).not.toBe(old);
    expect(parseRunState(serializeRunState(claimed), 'test').runAttempts[0]!.claim).toEqual(claim);
    expect(claimDifferences(claim, { ...claim })).toEqual([]);
  });
});

describe('the identity inputs', () => {
  const read = (inputs: Record<string, string>) => {
    const problems: string[] = [];
    const identity = readIdentityInputs((name) => inputs[name] ?? '', problems);
    return { identity, problems };
  };

  it("reads the runner's toJSON(matrix), and null outside a matrix", () => {
    expect(read({ 'matrix-leg': '{\n  "region": "eu"\n}' }).identity.leg).toEqual({ region: 'eu' });
    for (const none of ['', 'null', '{}']) expect(read({ 'matrix-leg': none }).identity.leg).toBeNull();
  });

  it('refuses a matrix-leg that is not a JSON object, and a bad run-key, saying what to do', () => {
    expect(read({ 'matrix-leg': 'eu' }).problems).toEqual([expect.stringMatching(/^Invalid input 'matrix-leg': "eu" is not a JSON object\. Leave it unset.*set 'run-key' instead\.$/)]);
    expect(read({ 'run-key': 'a\nb' }).problems).toEqual([expect.stringMatching(/^Invalid input 'run-key': "a\\nb"\. Expected at most 100 letters/)]);
    expect(read({ 'run-key': 'x'.repeat(101) }).problems).toHaveLength(1);
    expect(read({ 'run-key': 'eu-west/1 a=b' })).toEqual({ identity: { runKey: 'eu-west/1 a=b', leg: null, jobInstance: null }, problems: [] });
  });

  it('the step id comes from GITHUB_ACTION', () => {
    const context = readRunContext({ GITHUB_JOB: 'sync', GITHUB_ACTION: 'load_2' }, { runKey: 'k', leg: { a: 1 }, jobInstance: 'x' });
    expect(context).toMatchObject({ job: 'sync', step: 'load_2', runKey: 'k', leg: { a: 1 }, jobInstance: 'x' });
  });
});

/**
 * Issue 13, the failing network: the preflight's reviews (SelfSubjectRulesReview, and
 * SelfSubjectAccessReviews for what it does not show) change nothing, so a
 * lost answer (and the burst of 503s that may follow it, Retry-After honoured) is asked again
 * within the retry budget instead of failing the run as "could not be reached"; and a restart
 * after a SIGKILL that does fail at the preflight still tells the post step which pods are the
 * run's, so the killed run's pods are cleaned up.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import { preflight } from '../../src/kube/auth.ts';
import { createClient } from '../../src/kube/client.ts';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { runStep } from '../harness/action.ts';

const NS = 'net';
let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox({ namespaces: [NS] });
});
afterAll(async () => {
  await sandbox?.close();
});

/** The preflight's reviews. */
const REVIEWS = ['selfsubjectrulesreviews', 'selfsubjectaccessreviews'];

function client() {
  const kc = new KubeConfig();
  kc.loadFromString(sandbox.kubeconfig());
  return createClient(kc, { retry: { baseMs: 5, maxMs: 20 } });
}

describe('the preflight on a network that loses answers', () => {
  it('asks a permission check again when its answer was lost', async () => {
    sandbox.faults.loseAnswers({ share: 0, first: 1, resources: REVIEWS });
    sandbox.counters.reset();
    try {
      await preflight(client(), NS, 'run');
    } finally {
      sandbox.faults.clear();
    }
    // One rules review shows every permission granted; its first answer was lost and it was asked again.
    expect(sandbox.counters.get('create', 'selfsubjectrulesreviews')).toBe(2);
    expect(sandbox.counters.get('create', 'selfsubjectaccessreviews')).toBe(0);
  });

  it('waits out a burst of 503s after a lost answer, as long as Retry-After asks', async () => {
    sandbox.faults.loseAnswers({ share: 0, first: 1, then503: 3, retryAfterSeconds: 0, resources: REVIEWS });
    try {
      await preflight(client(), NS, 'run');
    } finally {
      sandbox.faults.clear();
    }
  });

  it('still fails, saying the server could not be reached, when every answer is lost', async () => {
    sandbox.faults.loseAnswers({ share: 1, resources: REVIEWS });
    try {
      await expect(preflight(client(), NS, 'run')).rejects.toThrow(/could not be reached/);
    } finally {
      sandbox.faults.clear();
    }
  });
});

describe('a restart after SIGKILL that fails at the preflight', () => {
  it('saves the post step its state, and the post step deletes the killed run pods', async () => {
    const cwd = await mkdtemp(path.join(tmpdir(), 'pod-dag-net-'));
    await writeFile(path.join(cwd, 'dag.yaml'), `version: 1\nname: killed\nnamespace: ${NS}\ntasks: {long: {image: "sandbox/sleep:forever"}}\n`);
    const inputs = { dag: 'dag.yaml', kubeconfig: sandbox.kubeconfig(), 'keep-pods': 'never' };
    const env = { GITHUB_RUN_ID: '1300100', RUNNER_TEMP: cwd };
    // The first start is killed once its pod runs (the live log's 'started' line, after 'created pod').
    const first = await runStep({ cwd, inputs, env, onLine: (line, step) => / started( on |$)/.test(line) && step.signal('SIGKILL') });
    expect(first.signal).toBe('SIGKILL');
    const pods = () => sandbox.list('pods', NS).filter((p) => (p.metadata as { name: string }).name.startsWith('killed-1300100-'));
    expect(pods()).toHaveLength(1);

    // The restart cannot get one permission check answered.
    sandbox.faults.loseAnswers({ share: 1, resources: REVIEWS });
    const second = await runStep({ cwd, inputs, env }).finally(() => sandbox.faults.clear());
    expect(second.exitCode, second.stdout).toBe(1);
    expect(JSON.parse(second.state['runs']!)).toMatchObject({ dag: 'killed', runIds: ['1300100'] });

    const post = await runStep({ cwd, entry: 'post', inputs, env, state: second.state });
    expect(post.exitCode, post.stdout).toBe(0);
    expect(post.stdout).toContain('Deleted 1 leftover pod');
    expect(pods().filter((p) => !(p.metadata as { deletionTimestamp?: string }).deletionTimestamp)).toEqual([]);
  });
});

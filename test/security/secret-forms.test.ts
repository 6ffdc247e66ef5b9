/**
 * The runner masks exactly the strings the action registers (`::add-mask::`), line by line. What
 * the action registers for a credential must therefore cover every form in which a credential
 * can reach the log: encoded (base64 at any alignment, URL, JSON), inside a kubeconfig given as
 * base64 (before anything parses it and may quote it), the password of a URL
 * (`https://user:password@host`, which undici quotes whole in its errors), and the credentials an
 * exec plugin hands out after the action connected.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { describe, expect, it, vi } from 'vitest';
import { githubRunner, maskSecret, type Runner } from '../../src/action/github-runner.ts';
import { withoutUrlCredentials } from '../../src/common/url-credentials.ts';
import { connect } from '../../src/kube/auth.ts';
import { describeError } from '../../src/kube/errors.ts';
import { LiveLogReporter } from '../../src/report/live-log.ts';
import { renderRunSummary } from '../../src/report/summary.ts';
import { failureState, info } from '../report/fixtures.ts';
import { makeRedactor } from '../../src/report/escape.ts';
import { stepLogLines } from '../../src/report/workflow-commands.ts';
import { runStep } from '../harness/action.ts';

/** The values maskSecret registers for `value`. */
function masksOf(...values: string[]): string[] {
  const masks: string[] = [];
  const runner = { setSecret: (v: string) => masks.push(v) } as unknown as Runner;
  for (const v of values) maskSecret(runner, v);
  return masks;
}

/** A line as the runner shows it: every registered value replaced, longest first (SecretMasker). */
function runnerMask(line: string, masks: string[]): string {
  let out = line;
  for (const m of [...masks].sort((a, b) => b.length - a.length)) out = out.split(m).join('***');
  return out;
}

const TOKEN = 'sk-Live_9f8e7d6c5b4a3!+/=secretpart';

describe('what maskSecret registers for a credential', () => {
  it('covers its base64 at every alignment, its URL encoding and its JSON escaping', () => {
    const masks = masksOf(TOKEN);
    const b64 = (prefix: string) => Buffer.from(prefix + TOKEN, 'utf8').toString('base64');
    const printed = [
      `auth header: Basic ${Buffer.from(`user:${TOKEN}`).toString('base64')}`,
      `base64: ${b64('')} ${b64('x')} ${b64('xy')}`,
      `query: https://h/x?token=${encodeURIComponent(TOKEN)}&a=1`,
      `json: ${JSON.stringify({ token: `${TOKEN}"quoted"` })}`,
    ];
    for (const line of printed) {
      const shown = runnerMask(line, masks);
      expect(shown).not.toContain('secretpart');
      // Base64 keeps no readable part; check the middle of each encoded form is gone too.
      for (const p of ['', 'x', 'xy']) expect(shown).not.toContain(b64(p).slice(8, 24));
      expect(shown).not.toContain(encodeURIComponent(TOKEN));
    }
  });

  it('covers a credential that holds an invisible character, as the step log prints it (without)', () => {
    const secret = 'pass\u200bword-\u00adWith-Invisibles';
    const masks = masksOf(secret);
    const lines = stepLogLines(`[task] it is ${secret} here`);
    expect(lines.map((l) => runnerMask(l, masks))).toEqual(['[task] it is *** here']);
    expect(makeRedactor([secret])('it is password-With-Invisibles here')).toBe('it is *** here');
  });

  it("covers the credentials in a kubeconfig's exec plugin: its args and its env", () => {
    const kubeconfig = [
      'apiVersion: v1',
      'users:',
      '- name: flow',
      '  user:',
      '    exec: {command: get-token, args: ["--token", "FlowStyleToken-123", "--password=InlinePass-456", "--region", "eu-west-1"]}',
      '- name: block',
      '  user:',
      '    exec:',
      '      command: aws',
      '      args:',
      '      - --token',
      '      - BlockStyleToken-789',
      '      - --cluster-name',
      '      - my-production-cluster',
      '      env:',
      '      - name: AWS_SECRET_ACCESS_KEY',
      '        value: wJalrXUtnFEMI/K7MDENG',
      '      - name: AWS_REGION',
      '        value: eu-central-1',
    ].join('\n');
    const masks = masksOf(kubeconfig);
    for (const secret of ['FlowStyleToken-123', 'InlinePass-456', 'BlockStyleToken-789', 'wJalrXUtnFEMI/K7MDENG']) {
      expect(runnerMask(`the plugin was given ${secret} here`, masks)).toBe('the plugin was given *** here');
    }
    // What names no credential stays readable.
    for (const plain of ['eu-west-1', 'my-production-cluster', 'eu-central-1']) expect(masks).not.toContain(plain);
  });

  it('covers the lines and the credentials of a kubeconfig given as base64, before it is parsed', () => {
    const key = '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5m1pB3Tf7cQr5oAoGCCqGSM49\n-----END EC PRIVATE KEY-----\n';
    const kubeconfig = [
      'apiVersion: v1',
      'clusters: [{name: c, cluster: {server: "https://admin:Pr0xyPassw0rd@127.0.0.1:6443"}}]',
      'users:',
      '- name: u',
      '  user:',
      '    token: abc123tokenvalue',
      `    client-key-data: ${Buffer.from(key).toString('base64')}`,
    ].join('\n');
    const masks = masksOf(Buffer.from(kubeconfig).toString('base64'));
    // An error quoting the decoded file, a token on its own, the key, the URL's password.
    expect(runnerMask('invalid kubeconfig near "    token: abc123tokenvalue"', masks)).not.toContain('abc123tokenvalue');
    expect(runnerMask('Authorization: Bearer abc123tokenvalue', masks)).not.toContain('abc123tokenvalue');
    expect(runnerMask('MHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5m1pB3Tf7cQr5oAoGCCqGSM49', masks)).toBe('***');
    expect(runnerMask('cannot reach https://admin:Pr0xyPassw0rd@127.0.0.1:6443/api', masks)).not.toContain('Pr0xyPassw0rd');
  });

  it('does not star the log: structural lines and short values of a kubeconfig stay readable', () => {
    const masks = masksOf('apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n    token: abc123tokenvalue\n');
    expect(runnerMask('kind: Config', masks)).toBe('kind: Config');
    expect(runnerMask('user u', masks)).toBe('user u');
  });
});

describe('a URL with a password in it', () => {
  it('is a credential: connect masks the password of the server and of the proxy', async () => {
    const viaInput = await connect({ server: 'https://robot:s3cr%24t-pass@127.0.0.1:1', token: 'token-abcdef-123456' }, {});
    expect(viaInput.secrets).toEqual(expect.arrayContaining(['s3cr%24t-pass', 's3cr$t-pass', 'robot:s3cr%24t-pass']));
    const kubeconfig = [
      'apiVersion: v1',
      'clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", proxy-url: "http://proxyuser:Pr0xyPassw0rd@127.0.0.1:3128"}}]',
      'contexts: [{name: c, context: {cluster: c, user: u}}]',
      'current-context: c',
      'users: [{name: u, user: {token: token-abcdef-123456}}]',
    ].join('\n');
    const viaFile = await connect({ kubeconfig }, {});
    expect(viaFile.secrets).toContain('Pr0xyPassw0rd');
  });

  it('is shown without its user info in messages about the server', () => {
    expect(withoutUrlCredentials('at https://robot:pw@h:6443/api and http://u@p/')).toBe('at https://h:6443/api and http://p/');
    const message = describeError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'list pods', 'https://robot:s3cret@127.0.0.1:1');
    expect(message).toContain('https://127.0.0.1:1');
    expect(message).not.toContain('s3cret');
  });

  it('never reaches the step log or the summary of dist/index.js (the `server` input)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'pod-dag-urlcred-'));
    await writeFile(path.join(dir, 'dag.yaml'), 'version: 1\nname: cred\ntasks: {a: {image: busybox}}\n');
    const step = await runStep({
      cwd: dir,
      inputs: { dag: 'dag.yaml', server: 'https://robot:Sup3rS3cretPassw0rd@127.0.0.1:1', token: 'token-abcdef-123456' },
      deadlineMs: 60_000,
    });
    expect(step.exitCode).toBe(1);
    expect(step.maskedLog + step.summary + JSON.stringify(step.outputs)).not.toContain('Sup3rS3cretPassw0rd');
    expect(step.stderr).not.toContain('Sup3rS3cretPassw0rd');
    // The action's own lines name the server without it, not even as stars.
    expect(step.stdout).toMatch(/^Cluster https:\/\/127\.0\.0\.1:1, namespace/m);
  });
});

describe('credentials an exec plugin hands out', () => {
  function kubeconfig(script: string): string {
    return [
      'apiVersion: v1',
      'kind: Config',
      'clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]',
      'contexts: [{name: c, context: {cluster: c, user: u}}]',
      'current-context: c',
      'users:',
      '- name: u',
      '  user:',
      '    exec:',
      '      apiVersion: client.authentication.k8s.io/v1',
      '      command: sh',
      `      args: ["-c", ${JSON.stringify(script)}]`,
      '      interactiveMode: Never',
    ].join('\n');
  }

  it('are secrets, the client key included, and a token renewed later is told to the listeners', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'pod-dag-cred-renew-'));
    const counter = path.join(dir, 'n');
    // Each run hands out a new, already expired token (so the next request runs it again) and a key.
    const script = `n=$(cat ${counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${counter}; printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"renewed-token-%s-abcdef","clientKeyData":"KEYDATA-%s-0123456789","clientCertificateData":"CERTDATA-%s-0123456789","expirationTimestamp":"2000-01-01T00:00:00Z"}}' $n $n $n`;
    const connection = await connect({ kubeconfig: kubeconfig(script) }, {});
    expect(connection.secrets).toEqual(expect.arrayContaining(['renewed-token-1-abcdef', 'KEYDATA-1-0123456789']));
    const told: string[] = [];
    connection.onNewSecret((s) => told.push(s));
    await connection.kubeConfig.applyToHTTPSOptions({ headers: {} });
    expect(told).toEqual(expect.arrayContaining(['renewed-token-2-abcdef', 'KEYDATA-2-0123456789']));
    expect(connection.secrets).toContain('renewed-token-2-abcdef');
  });
});

describe('a token file the kubelet rotates (in-cluster)', () => {
  it('is read again by client-node after a minute, and the new token is told to the listeners', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'pod-dag-sa-'));
    await writeFile(path.join(dir, 'token'), 'first-projected-token-0123456789');
    await writeFile(path.join(dir, 'ca.crt'), '');
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const connection = await connect({}, { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '1' }, { serviceAccountDir: dir });
      expect(connection.secrets).toContain('first-projected-token-0123456789');
      const told: string[] = [];
      connection.onNewSecret((s) => told.push(s));
      await writeFile(path.join(dir, 'token'), 'second-projected-token-9876543210');
      vi.setSystemTime(Date.now() + 61_000);
      await connection.kubeConfig.applyToHTTPSOptions({ headers: {} });
      expect(told).toContain('second-projected-token-9876543210');
      expect(connection.secrets).toContain('second-projected-token-9876543210');
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("the runner seam's own messages", () => {
  it('carry no registered secret, whatever escaping the command needs (annotations, debug lines, the summary)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'pod-dag-seam-'));
    const summary = path.join(dir, 'summary');
    await writeFile(summary, '');
    vi.stubEnv('GITHUB_STEP_SUMMARY', summary);
    const writes: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      writes.push(String(s));
      return true;
    });
    try {
      const runner = githubRunner();
      // A `%` and a line break: escaped in a command, so a mask matched on the line would miss it.
      const secret = 'p%40ss\nw0rd-Secret';
      runner.setSecret(secret);
      runner.error(`the server said: bad token ${secret}`, { title: `auth ${secret}` });
      runner.warning(`retrying with ${secret}`);
      runner.debug(`request header ${secret}`);
      runner.setFailed(`failed: ${secret}`);
      await runner.appendSummary(`| token | ${secret} |`);
      await Promise.resolve();
      const printed = writes.join('').split('\n').filter((l) => !l.startsWith('::add-mask::'));
      expect(printed.join('\n')).not.toMatch(/w0rd-Secret|p%(25)?40ss/);
      expect(printed.join('\n')).toContain('bad token ***');
      expect(await readFile(summary, 'utf8')).toBe('| token | *** |\n');
    } finally {
      vi.restoreAllMocks();
      vi.unstubAllEnvs();
      process.exitCode = undefined;
    }
  });
});

describe('a long log line cut for the step log', () => {
  it('is cut before a credential that spans the cut, as written or base64-encoded (the runner would show its first part)', () => {
    const token = 'SECRET-TOKEN-1234567890abcdef';
    const lines: string[] = [];
    const live = new LiveLogReporter({ write: (l) => lines.push(l), maxLineLength: 50, secrets: [token] });
    const b64 = Buffer.from(token).toString('base64');
    live.logLine({ task: 't', attempt: 1, time: null, text: `${'x'.repeat(40)}${token} after` });
    live.logLine({ task: 't', attempt: 1, time: null, text: `${'y'.repeat(30)}${b64} after` });
    live.logLine({ task: 't', attempt: 1, time: null, text: `${'z'.repeat(60)}` });
    expect(lines[0]).toBe(`[t] ${'x'.repeat(40)}… (line cut at 50 characters)`);
    expect(lines[1]).toBe(`[t] ${'y'.repeat(30)}… (line cut at 50 characters)`);
    expect(lines[2]).toBe(`[t] ${'z'.repeat(50)}… (line cut at 50 characters)`);
  });

  it('is cut between words, so a secret only the runner knows is not cut in two either', () => {
    const workflowSecret = 'wf-SECRET-abcdef0123456789';
    const lines: string[] = [];
    const live = new LiveLogReporter({ write: (l) => lines.push(l), maxLineLength: 50 });
    live.logLine({ task: 't', attempt: 1, time: null, text: `connecting as admin with ${workflowSecret} now` });
    expect(lines[0]).toBe('[t] connecting as admin with … (line cut at 50 characters)');
    expect(runnerMask(lines[0]!, [workflowSecret])).not.toContain('wf-SECRET');
  });
});

describe('a long message or log line cut for the job summary', () => {
  it('is cut between words, so a secret only the runner knows is not cut in two', () => {
    const workflowSecret = 'wf-SECRET-abcdef0123456789';
    const words = 'word '.repeat(29); // 145 characters: the secret spans the 160-character cut
    const state = failureState();
    state.tasks[2]!.attempts[2]!.outcome!.message = `${words}${workflowSecret} and more`;
    const tail = { 'migrate-data': [`${'w '.repeat(995)}${workflowSecret} end`] };
    const text = renderRunSummary(info(), state, tail, { logTailLines: 50 });
    expect(runnerMask(text, [workflowSecret])).not.toContain('wf-SECRET');
    expect(text).toContain(`${words}…`);
  });
});

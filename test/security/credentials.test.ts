/**
 * Issue 13, item 8: whatever a kubeconfig's exec credential plugin prints never reaches the step
 * log: a failure names the command and how much it printed, not what, when the action connects
 * and when client-node runs the plugin again for a fresh token during the run.
 */
import { execFile } from 'node:child_process';
import { constants, createReadStream } from 'node:fs';
import { mkdtemp, open, readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { connect, CredentialPluginError } from '../../src/kube/auth.ts';
import { runStep } from '../harness/action.ts';

const execFileAsync = promisify(execFile);
/** include/linux/sched.h: the task is in do_exit (set before it closes its files). */
const PF_EXITING = 0x4;

const LEAK = 'eyJhbGciOiJSUzI1NiJ9.LEAKED-TOKEN-FROM-PLUGIN';

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

describe('a failing exec credential plugin', () => {
  it('fails connect with a message that names the command and hides what it printed', async () => {
    const err = await connect({ kubeconfig: kubeconfig(`echo "debug: token ${LEAK}" >&2; exit 1`) }, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CredentialPluginError);
    expect((err as Error).message).not.toContain('LEAKED');
    expect((err as Error).message).toMatch(/^The kubeconfig's credential plugin `sh` \(user "u"\) failed and printed \d+ characters, not shown here because they may hold credentials\./);
  });

  it('hides a half-written credential on stdout (a JSON error would quote it)', async () => {
    const err = await connect({ kubeconfig: kubeconfig(`printf '{"status": {"token": "${LEAK}"'`) }, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CredentialPluginError);
    expect((err as Error).message).not.toContain('LEAKED');
  });

  it('hides what it prints when it fails later, as client-node runs it again for a fresh token', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'pod-dag-cred-'));
    const marker = path.join(dir, 'ran');
    // The first run hands out an already expired token; the second fails, printing a secret.
    const ok = `{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"first-token-123456","expirationTimestamp":"2000-01-01T00:00:00Z"}}`;
    const script = `if [ -e ${marker} ]; then echo "${LEAK}" >&2; exit 1; fi; touch ${marker}; echo '${ok}'`;
    const connection = await connect({ kubeconfig: kubeconfig(script) }, {});
    const err = await connection.kubeConfig.applyToHTTPSOptions({ headers: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CredentialPluginError);
    expect((err as Error).message).not.toContain('LEAKED');
  });
});

describe('the action with a failing credential plugin', () => {
  it('fails the step without the plugin output anywhere in the log', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'pod-dag-cred-step-'));
    await writeFile(path.join(dir, 'dag.yaml'), 'version: 1\nname: cred\ntasks: {a: {image: busybox}}\n');
    await writeFile(path.join(dir, 'kubeconfig'), kubeconfig(`echo "${LEAK}" >&2; exit 1`));
    const step = await runStep({ cwd: dir, inputs: { dag: 'dag.yaml' }, env: { KUBECONFIG: path.join(dir, 'kubeconfig') } });
    expect(step.exitCode).toBe(1);
    expect(step.stdout + step.stderr + step.summary).not.toContain('LEAKED');
    expect(step.stdout).toContain("credential plugin `sh`");
  });
});

describe('a credential plugin that never answers', () => {
  it('is stopped after the timeout, with its process group, and the error says what it may wait for', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'pod-dag-cred-'));
    const pidFile = path.join(dir, 'child.pid');
    // The plugin's child holds a FIFO open for writing: its read end ends (EOF) when the child's
    // files are closed, that is when it has died. Waiting for that, not reading its state at once,
    // is what makes the test hold under load: SIGKILL is only queued when kill() returns, and a
    // child not yet scheduled to die still shows `R`.
    const fifo = path.join(dir, 'child.fifo');
    await execFileAsync('mkfifo', [fifo]);
    // Opening the read end blocks (in libuv's pool) until the child opens the write end.
    const childGone = new Promise<void>((resolve, reject) => {
      const r = createReadStream(fifo);
      r.on('data', () => {});
      r.on('end', resolve);
      r.on('error', reject);
    });
    // A plugin that waits (as for a login prompt), with a child of its own holding the pipes open.
    const script = `sleep 600 > ${fifo} & echo $! > ${pidFile}; echo "${LEAK}" >&2; wait`;
    try {
      const err = await connect({ kubeconfig: kubeconfig(script) }, {}, { credentialPluginTimeoutMs: 1000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CredentialPluginError);
      expect((err as Error).message).toMatch(/^The kubeconfig's credential plugin `sh` \(user "u"\) did not answer within 1s and was stopped\./);
      expect((err as Error).message).not.toContain('LEAKED');
      // Its child was killed with it: its FIFO closes within the deadline (it would hold it for 600 s).
      await withDeadline(childGone, 10_000, "the plugin's child to die (its FIFO to close)");
      // Gone, a zombie nobody reaped yet (no init reaps in a container), or still in the kernel's
      // exit path: a dying task closes its files (the FIFO's EOF) before it turns zombie, and shows
      // `R` in between, with PF_EXITING (0x4) among its flags. A live `sleep` has neither.
      const pid = Number((await readFile(pidFile, 'utf8')).trim());
      const state = await readFile(`/proc/${pid}/stat`, 'utf8').then(
        (stat) => {
          const [s, , , , , , flags] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
          return (Number(flags) & PF_EXITING) !== 0 ? 'exiting' : s;
        },
        () => 'gone',
      );
      expect(['gone', 'Z', 'X', 'exiting']).toContain(state);
    } finally {
      // If the child never opened the FIFO, the reader still waits in open(): release it.
      await open(fifo, constants.O_WRONLY | constants.O_NONBLOCK).then(
        (h) => h.close(),
        () => {},
      );
    }
  });
});

/** `p`, or a rejection naming `what` after `ms`. */
function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

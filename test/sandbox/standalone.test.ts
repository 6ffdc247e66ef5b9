// `npm run sandbox -- --kubeconfig-out FILE`: serves until SIGTERM, with a kubeconfig that works.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import * as k8s from '@kubernetes/client-node';

const script = join(import.meta.dirname, '../../scripts/sandbox.mjs');
const dir = mkdtempSync(join(tmpdir(), 'sandbox-standalone-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the starter; resolves once stdout shows `until`, or rejects when it exits first. */
function start(args: string[], until: RegExp) {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const ready = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sandbox starter did not print ${until} within 30 s; stdout: ${out}; stderr: ${err}`)), 30_000);
    child.stdout.on('data', () => {
      if (until.test(out)) {
        clearTimeout(timer);
        resolve(out);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`sandbox starter exited with ${code}; stdout: ${out}; stderr: ${err}`));
    });
  });
  return { child, ready, exited, stderr: () => err };
}

it('writes a working kubeconfig, prints the URL and stops cleanly on SIGTERM', async () => {
  const file = join(dir, 'kubeconfig');
  const s = start(['--kubeconfig-out', file, '--namespace', 'data-jobs'], /kubeconfig written/);
  const out = await s.ready;
  const url = /serving (https:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
  expect(url).toBeTruthy();
  expect(statSync(file).mode & 0o777).toBe(0o600);
  const kc = new k8s.KubeConfig();
  kc.loadFromString(readFileSync(file, 'utf8'));
  expect(kc.getCurrentCluster()?.server).toBe(url);
  const namespaces = await kc.makeApiClient(k8s.CoreV1Api).listNamespace();
  expect(namespaces.items.map((n) => n.metadata?.name)).toEqual(['data-jobs', 'default']);
  s.child.kill('SIGTERM');
  expect(await s.exited).toBe(0);
});

it('refuses to start without --kubeconfig-out, saying what is missing', async () => {
  const s = start([], /never/);
  expect(await s.exited).toBe(2);
  expect(s.stderr()).toContain('--kubeconfig-out FILE is required');
  await s.ready.catch(() => undefined);
});

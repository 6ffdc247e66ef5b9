/**
 * The node agent's kubelet API (sandbox/node-agent/server.ts) on its own: containerLogs over HTTPS
 * with a client certificate, answered from a LogStore as the kubelet answers the API server's proxy.
 */
import { request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthority, type CertificateAuthority } from '../../sandbox/certs.ts';
import { LogStore } from '../../sandbox/logs.ts';
import { startKubeletServer, type KubeletServer } from '../../sandbox/node-agent/server.ts';
import type { KObject } from '../../sandbox/selectors.ts';

const pods = new Map<string, KObject>();
const logs = new LogStore();
let ca: CertificateAuthority;
let server: KubeletServer;
let client: { certPem: string; keyPem: string };

function pod(name: string, state: Record<string, unknown>, restartCount = 0, lastState: Record<string, unknown> = {}): KObject {
  return {
    metadata: { name, namespace: 'ns', uid: `uid-${name}` },
    spec: { containers: [{ name: 'main', image: 'x' }] },
    status: { containerStatuses: [{ name: 'main', state, restartCount, lastState }] },
  } as KObject;
}

/** GET on the kubelet API; `cert: false` sends no client certificate. */
function get(path: string, cert = true): Promise<{ code: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port: server.port, path, ca: ca.caPem,
      ...(cert ? { cert: client.certPem, key: client.keyPem } : {}),
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ code: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  ca = createAuthority('kubelet-test-ca');
  client = ca.issue({ commonName: 'kube-apiserver-kubelet-client', client: true });
  const serving = ca.issue({ commonName: 'kubelet', ips: ['127.0.0.1'] });
  server = await startKubeletServer({ port: 0, ...serving, clientCaPem: ca.caPem, logs, pod: (ns, name) => (ns === 'ns' ? pods.get(name) : undefined) });
  pods.set('done', pod('done', { terminated: { exitCode: 0 } }));
  const log = logs.get('uid-done', 'main', 0);
  log.write('stdout', 'one\ntwo\nthree\n');
  log.finish();
  pods.set('waiting', pod('waiting', { waiting: { reason: 'ImagePullBackOff' } }));
});
afterAll(() => server.close());

describe('the kubelet API of the node agent', () => {
  it('serves a container log, with tailLines, limitBytes and RFC3339Nano timestamps', async () => {
    expect(await get('/containerLogs/ns/done/main')).toEqual({ code: 200, body: 'one\ntwo\nthree\n' });
    expect((await get('/containerLogs/ns/done/main?tailLines=1')).body).toBe('three\n');
    expect((await get('/containerLogs/ns/done/main?limitBytes=5')).body).toBe('one\nt');
    const stamped = (await get('/containerLogs/ns/done/main?timestamps=true')).body.trimEnd().split('\n');
    expect(stamped).toHaveLength(3);
    for (const line of stamped) expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z (one|two|three)$/);
    // sinceTime with the second line's own stamp: from that line on.
    const since = stamped[1]!.split(' ')[0]!;
    expect((await get(`/containerLogs/ns/done/main?sinceTime=${encodeURIComponent(since)}`)).body).toBe('two\nthree\n');
  });

  it('follows a running container until it exits', async () => {
    pods.set('live', pod('live', { running: { startedAt: '2026-01-01T00:00:00Z' } }));
    const log = logs.get('uid-live', 'main', 0);
    log.write('stdout', 'first\n');
    // Once 'first' came, the container writes more and exits: a follow gets both, then the end.
    const answer = await new Promise<{ code: number; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: server.port, path: '/containerLogs/ns/live/main?follow=true', ca: ca.caPem, cert: client.certPem, key: client.keyPem }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
          if (body === 'first\n') {
            log.write('stdout', 'second\n');
            log.finish();
          }
        });
        res.on('end', () => resolve({ code: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(answer).toEqual({ code: 200, body: 'first\nsecond\n' });
  });

  it('answers as the kubelet for a waiting container, an unknown pod or container', async () => {
    expect(await get('/containerLogs/ns/waiting/main')).toEqual({ code: 400, body: 'container "main" in pod "waiting" is waiting to start: trying and failing to pull image' });
    expect(await get('/containerLogs/ns/nope/main')).toEqual({ code: 404, body: 'pod "nope" does not exist' });
    expect(await get('/containerLogs/ns/done/other')).toEqual({ code: 404, body: 'container "other" not found in pod "done"' });
    expect(await get('/containerLogs/ns/done/main?previous=true')).toEqual({ code: 400, body: 'previous terminated container "main" in pod "done" not found' });
  });

  it('refuses a client without a certificate from the CA', async () => {
    await expect(get('/containerLogs/ns/done/main', false)).rejects.toThrow();
    const other = createAuthority('someone-else').issue({ commonName: 'x', client: true });
    const foreign = new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: server.port, path: '/healthz', ca: ca.caPem, cert: other.certPem, key: other.keyPem }, resolve);
      req.on('error', reject);
      req.end();
    });
    await expect(foreign).rejects.toThrow();
  });
});

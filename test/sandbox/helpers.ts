/**
 * Helpers for tests that drive the sandbox through @kubernetes/client-node: clients from a
 * kubeconfig, and waiting on a pod's watch events (never polling, always with a deadline).
 */
import * as k8s from '@kubernetes/client-node';
import type { Sandbox } from '../../sandbox/index.ts';

/** Typed clients for one sandbox user. */
export interface Clients {
  kc: k8s.KubeConfig;
  core: k8s.CoreV1Api;
  coordination: k8s.CoordinationV1Api;
}

/** Clients for the admin, or for the user with `token`. */
export function clients(sandbox: Sandbox, opts: { token?: string; namespace?: string } = {}): Clients {
  const kc = new k8s.KubeConfig();
  kc.loadFromString(sandbox.kubeconfig(opts));
  return { kc, core: kc.makeApiClient(k8s.CoreV1Api), coordination: kc.makeApiClient(k8s.CoordinationV1Api) };
}

/** One watch event as the client delivered it. */
export interface SeenEvent {
  type: string;
  object: k8s.V1Pod;
}

/**
 * Watches one pod from `fromResourceVersion` (or from a fresh get) until `done(pod)` holds;
 * returns every event seen. Fails after `timeoutMs` with the last status seen.
 */
export async function watchPod(
  kc: k8s.KubeConfig,
  namespace: string,
  name: string,
  done: (pod: k8s.V1Pod, type: string) => boolean,
  opts: { timeoutMs?: number; fromResourceVersion?: string } = {},
): Promise<{ pod: k8s.V1Pod; events: SeenEvent[] }> {
  const events: SeenEvent[] = [];
  const timeoutMs = opts.timeoutMs ?? 20_000;
  let rv = opts.fromResourceVersion;
  if (rv === undefined) {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const pod = await core.readNamespacedPod({ name, namespace });
    if (done(pod, 'GET')) return { pod, events };
    rv = pod.metadata!.resourceVersion!;
  }
  let controller: AbortController | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await new Promise((resolve, reject) => {
      timer = setTimeout(() => {
        const last = events.at(-1)?.object.status;
        reject(new Error(`pod ${namespace}/${name}: condition not met within ${timeoutMs} ms; last status seen: ${JSON.stringify(last)}`));
      }, timeoutMs);
      const watch = new k8s.Watch(kc);
      void watch
        .watch(
          `/api/v1/namespaces/${namespace}/pods`,
          { resourceVersion: rv, fieldSelector: `metadata.name=${name}` },
          (type: string, object: k8s.V1Pod) => {
            events.push({ type, object });
            if (type !== 'BOOKMARK' && type !== 'ERROR' && done(object, type)) resolve({ pod: object, events });
          },
          (err: unknown) => {
            if (err) reject(err instanceof Error ? err : new Error(String(err)));
            else reject(new Error(`watch of pod ${namespace}/${name} ended before the condition was met`));
          },
        )
        .then((c) => (controller = c), reject);
    });
  } finally {
    clearTimeout(timer);
    controller?.abort();
  }
}

/** Reads the Status body of a failed client-node call. */
export function statusOf(err: unknown): { code?: number; reason?: string; message?: string; details?: Record<string, unknown> } {
  const e = err as { code?: number; body?: unknown };
  if (typeof e.body === 'string') {
    try {
      return JSON.parse(e.body) as ReturnType<typeof statusOf>;
    } catch {
      return { code: e.code, message: e.body };
    }
  }
  return (e.body as ReturnType<typeof statusOf>) ?? { code: e.code };
}

/** Awaits a promise that must reject; returns its Status body. */
export async function failure(p: Promise<unknown>): Promise<ReturnType<typeof statusOf>> {
  try {
    await p;
  } catch (err) {
    return statusOf(err);
  }
  throw new Error('expected the request to fail, but it succeeded');
}

/** A pod manifest with one container "main". */
export function podManifest(name: string, container: Partial<k8s.V1Container>, spec: Partial<k8s.V1PodSpec> = {}, labels: Record<string, string> = {}): k8s.V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels },
    spec: { restartPolicy: 'Never', ...spec, containers: [{ name: 'main', image: 'sandbox/succeed', ...container }] },
  };
}

/** True once the pod's phase is Succeeded or Failed. */
export function finished(pod: k8s.V1Pod): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

/** A raw HTTPS request to the sandbox (for what typed clients hide: status bodies of 401, headers). */
export async function raw(
  sandbox: Sandbox,
  method: string,
  path: string,
  opts: { token?: string | null; body?: unknown; contentType?: string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer; text: string; json: () => unknown }> {
  const { request } = await import('node:https');
  const url = new URL(path, sandbox.url);
  const token = opts.token === undefined ? sandbox.adminToken : opts.token;
  return await new Promise((resolve, reject) => {
    const req = request(url, {
      method,
      ca: sandbox.caPem,
      headers: {
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
        ...(opts.body !== undefined ? { 'Content-Type': opts.contentType ?? 'application/json' } : {}),
      },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const text = body.toString();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text, json: () => JSON.parse(text) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.body !== undefined) req.write(typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body));
    req.end();
  });
}

/**
 * Follows a container's log until it contains `text`; returns the log read so far. The stream
 * is left to end with the container (or at sandbox.close()): aborting client-node's Log
 * controller makes its piped Readable emit an AbortError that nothing handles.
 */
export async function waitForLog(kc: k8s.KubeConfig, namespace: string, pod: string, text: string, timeoutMs = 20_000): Promise<string> {
  const { Writable } = await import('node:stream');
  let seen = '';
  let timer: NodeJS.Timeout | undefined;
  try {
    return await new Promise<string>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`log of ${namespace}/${pod} did not show ${JSON.stringify(text)} within ${timeoutMs} ms; got ${JSON.stringify(seen)}`)), timeoutMs);
      const sink = new Writable({
        write(chunk: Buffer, _enc, cb) {
          seen += chunk.toString();
          if (seen.includes(text)) resolve(seen);
          cb();
        },
      });
      sink.on('finish', () => reject(new Error(`log of ${namespace}/${pod} ended without ${JSON.stringify(text)}; got ${JSON.stringify(seen)}`)));
      new k8s.Log(kc).log(namespace, pod, 'main', sink, { follow: true }).catch(reject);
    });
  } finally {
    clearTimeout(timer);
  }
}

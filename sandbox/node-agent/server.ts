/**
 * The kubelet API, the part the API server's pods/log proxy uses: `GET
 * /containerLogs/{namespace}/{pod}/{container}` over HTTPS with the query of PodLogOptions
 * (follow, timestamps, sinceTime, sinceSeconds, tailLines, limitBytes, previous), answered as
 * pkg/kubelet/server/server.go getContainerLogs does, from the logs the shared kubelet keeps. Clients
 * must present a certificate signed by `clientCaPem` (the API server's --kubelet-client-certificate).
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { containerInstance, nowNanos, parseRfc3339, streamLog, type LogStore } from '../logs.ts';
import type { KObject } from '../selectors.ts';

/** How the kubelet API is served. */
export interface KubeletServerOptions {
  /** Port on 127.0.0.1; 0 for a free one. */
  port: number;
  certPem: string;
  keyPem: string;
  /** The CA of the client certificates accepted (the API server's). */
  clientCaPem: string;
  logs: LogStore;
  /** A pod on one of the agent's nodes, as last seen. */
  pod(namespace: string, name: string): KObject | undefined;
}

/** The running kubelet API. */
export interface KubeletServer {
  port: number;
  close(): Promise<void>;
}

/** Starts the kubelet API on 127.0.0.1. */
export async function startKubeletServer(o: KubeletServerOptions): Promise<KubeletServer> {
  const streams = new Set<() => void>();
  const sockets = new Set<Socket>();
  const server: Server = createServer({ cert: o.certPem, key: o.keyPem, ca: o.clientCaPem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    try {
      route(o, req, res, streams);
    } catch (err) {
      if (!res.headersSent) plain(res, 500, (err as Error).message);
      else res.destroy();
    }
  });
  server.on('secureConnection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      // Each log stream ends itself, so lines that arrive later are not written after its end.
      for (const end of [...streams]) end();
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    }),
  };
}

function plain(res: ServerResponse, code: number, text: string): void {
  res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(text);
}

function route(o: KubeletServerOptions, req: IncomingMessage, res: ServerResponse, streams: Set<() => void>): void {
  const url = new URL(req.url ?? '/', 'https://127.0.0.1');
  if (url.pathname === '/healthz') return plain(res, 200, 'ok');
  const m = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname);
  if (!m || req.method !== 'GET') return plain(res, 404, '404 page not found\n');
  const [ns, name, container] = [m[1]!, m[2]!, m[3]!].map(decodeURIComponent) as [string, string, string];
  const q = url.searchParams;
  const tail = q.get('tailLines') ?? (q.get('tail') === 'all' ? null : q.get('tail'));
  const limit = q.get('limitBytes');
  const sinceTime = q.get('sinceTime');
  const sinceSeconds = q.get('sinceSeconds');
  let since: number | undefined;
  if (sinceTime !== null) since = parseRfc3339(sinceTime);
  else if (sinceSeconds !== null) since = nowNanos() - Number(sinceSeconds) * 1_000_000_000;
  if ((tail !== null && !(Number(tail) >= 0)) || (limit !== null && !(Number(limit) >= 1)) || (sinceTime !== null && since === undefined)) {
    return plain(res, 422, '{"message": "Invalid request."}');
  }
  const pod = o.pod(ns, name);
  if (!pod) return plain(res, 404, `pod "${name}" does not exist`);
  const spec = pod.spec as { containers: { name: string }[]; initContainers?: { name: string }[] };
  if (![...spec.containers, ...(spec.initContainers ?? [])].some((c) => c.name === container)) {
    return plain(res, 404, `container "${container}" not found in pod "${name}"`);
  }
  const previous = q.get('previous') === 'true';
  const instance = containerInstance(pod, container, previous);
  if (typeof instance === 'string') return plain(res, 400, instance);
  const uid = pod.metadata.uid!;
  if (!o.logs.has(uid, container, instance)) {
    return plain(res, 400, previous ? `previous terminated container "${container}" in pod "${name}" not found` : `container "${container}" in pod "${name}" is waiting to start: ContainerCreating`);
  }
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked' });
  streamLog(req, res, o.logs.get(uid, container, instance), {
    follow: q.get('follow') === 'true' && !previous,
    timestamps: q.get('timestamps') === 'true',
    since,
    tailLines: tail !== null ? Number(tail) : undefined,
    maxBytes: limit !== null ? Number(limit) : Infinity,
    open: streams,
  });
}

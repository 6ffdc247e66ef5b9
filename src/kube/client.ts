/**
 * The connected client bundle: one KubeConfig, the typed APIs we use, and the two rules every
 * request follows: a client-side rate limit (token bucket) and retries of retriable errors
 * (src/kube/errors.ts). Log streams are opened here too, over node:https with the KubeConfig's
 * own TLS and auth options (exec plugins included), so a stream cut mid-way is seen as such.
 */
import https from 'node:https';
import http from 'node:http';
import type { IncomingMessage } from 'node:http';
import { AuthorizationV1Api, CoreV1Api, Watch } from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeError, TokenBucket, abortableSleep, withRetry } from './errors.ts';
import type { RetryOptions } from './errors.ts';

/** Options of `createClient`. */
export interface ClientOptions {
  /** Sustained requests per second; default 50, as kubectl's (a chain of short tasks needs ~4 requests per task). */
  qps?: number;
  /** Requests allowed at once before the rate applies; default 100. */
  burst?: number;
  /** Retry tuning (tests shorten the waits). */
  retry?: Omit<RetryOptions, 'signal' | 'retriable'>;
  /** Called once per request sent to the API server (for counting in tests and debug logs). */
  onRequest?: (what: string) => void;
}

/** The connected client bundle the engine, preflight and cleanup use. */
export interface KubeClient {
  kubeConfig: KubeConfig;
  /** The API server's URL. */
  server: string;
  core: CoreV1Api;
  authz: AuthorizationV1Api;
  watch: Watch;
  /**
   * Sends one request through the rate limit, retrying retriable errors (429, 5xx, network).
   * `retriable` narrows what is retried (a create must not be retried on a network error it
   * cannot tell from success, unless the caller handles the 409 that follows, which we do).
   */
  request<T>(what: string, fn: () => Promise<T>, options?: { retriable?: (err: unknown) => boolean; signal?: AbortSignal }): Promise<T>;
  /** Takes a rate-limit token and counts a request made outside `request` (watches). */
  throttle(what: string): Promise<void>;
  /** Opens a GET stream (pod logs); rejects with an error `classifyError` understands on non-200. */
  openStream(path: string, query: Record<string, string>, signal: AbortSignal): Promise<IncomingMessage>;
}

/** Builds the bundle. Makes no request. */
export function createClient(kubeConfig: KubeConfig, options: ClientOptions = {}): KubeClient {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new KubeError('The kubeconfig has no current cluster: set current-context or give the `context` input.');
  const limiter = new TokenBucket({ qps: options.qps ?? 50, burst: options.burst ?? 100 });
  const server = cluster.server.replace(/\/+$/, '');
  const onRequest = options.onRequest ?? ((): void => {});
  return {
    kubeConfig,
    server,
    core: kubeConfig.makeApiClient(CoreV1Api),
    authz: kubeConfig.makeApiClient(AuthorizationV1Api),
    watch: new Watch(kubeConfig),
    async throttle(what: string): Promise<void> {
      await limiter.take();
      onRequest(what);
    },
    request<T>(what: string, fn: () => Promise<T>, opts: { retriable?: (err: unknown) => boolean; signal?: AbortSignal } = {}): Promise<T> {
      return withRetry(
        async () => {
          await limiter.take();
          onRequest(what);
          return fn();
        },
        { ...options.retry, ...opts },
      );
    },
    async openStream(path: string, query: Record<string, string>, signal: AbortSignal): Promise<IncomingMessage> {
      await limiter.take();
      onRequest(`GET ${path}`);
      const url = new URL(server + path);
      for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
      const opts: https.RequestOptions = { method: 'GET', headers: {} };
      await kubeConfig.applyToHTTPSOptions(opts);
      const lib = url.protocol === 'http:' ? http : https;
      return new Promise<IncomingMessage>((resolve, reject) => {
        const req = lib.request(url, { ...opts, signal }, (res) => {
          if (res.statusCode === 200) {
            resolve(res);
            return;
          }
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            // Shaped like client-node's ApiException so classifyError reads it the same way.
            reject(Object.assign(new Error(`HTTP ${res.statusCode} for GET ${path}`), { code: res.statusCode, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
          });
        });
        req.on('error', reject);
        req.end();
      });
    },
  };
}

/** Re-exported so callers sleep the same way. */
export { abortableSleep };

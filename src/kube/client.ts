/**
 * The connected client bundle: one KubeConfig, the typed APIs we use, and the two rules every
 * request follows: a client-side rate limit (token bucket) and retries of retriable errors
 * (src/kube/errors.ts). Log streams are opened here too, over node:https with the KubeConfig's
 * own TLS and auth options (exec plugins included), so a stream cut mid-way is seen as such.
 *
 * Requests reuse connections (keep-alive): a run makes about four requests per task, and a new
 * TLS handshake for each would cost more than the request itself (BENCHMARKS.md, row 1).
 */
import { createHash } from 'node:crypto';
import https from 'node:https';
import http from 'node:http';
import tls from 'node:tls';
import type { IncomingMessage } from 'node:http';
import { AuthorizationV1Api, CoordinationV1Api, CoreV1Api, Watch } from '@kubernetes/client-node';
import type { Cluster, KubeConfig } from '@kubernetes/client-node';
import { KubeError, TokenBucket, abortableSleep, withRetry } from './errors.ts';
import type { RetryOptions } from './errors.ts';
import { DEFAULT_BURST, DEFAULT_QPS } from './rate-limit.ts';

export { DEFAULT_BURST, DEFAULT_QPS };

/** Options of `createClient`. */
export interface ClientOptions {
  /**
   * Sustained requests per second (default `DEFAULT_QPS`); `null` sends without a client-side
   * limit, leaving the server's API Priority and Fairness to hold the client back (429 with
   * Retry-After, which the retries honour).
   */
  qps?: number | null;
  /** Requests allowed at once before the rate applies (default `DEFAULT_BURST`). */
  burst?: number;
  /** Retry tuning (tests shorten the waits). */
  retry?: Omit<RetryOptions, 'signal' | 'retriable'>;
  /** Called once per request sent to the API server (for counting in tests and debug logs). */
  onRequest?: (what: string) => void;
  /** A watch that sends no byte for this long is cut and resumed (default `WATCH_IDLE_MS`; tests shorten it). */
  watchIdleMs?: number;
}

/**
 * A watch that sends no byte for this long is taken for a dead connection (a NAT or load balancer
 * that dropped it without a FIN or RST, a server that hangs): client-node's Watch aborts it with a
 * TimeoutError and the watcher resumes from the last resourceVersion (src/kube/watch.ts). A live
 * watch is never this quiet: the engine asks the server to end each watch after 25 s
 * (`timeoutSeconds`), and kube-apiserver's watch cache sends a bookmark 2 s before that deadline
 * (k8s.io/apiserver pkg/storage/cacher/cache_watcher.go `nextBookmarkTime`; otherwise one a
 * minute). So a dead watch costs at most this long, and one request to resume.
 */
export const WATCH_IDLE_MS = 30_000;


/**
 * Sends one API request through the client's rate limit and retries (`KubeClient.request` is one);
 * what the run store, the lease and housekeeping are given, so every request shares one limit.
 */
export type Requester = <T>(what: string, fn: () => Promise<T>) => Promise<T>;

/** The connected client bundle the engine, preflight and cleanup use. */
export interface KubeClient {
  /** The KubeConfig given to `createClient`, seen through a view whose requests reuse connections (`reusingConnections`). */
  kubeConfig: KubeConfig;
  /** The API server's URL. */
  server: string;
  core: CoreV1Api;
  authz: AuthorizationV1Api;
  coordination: CoordinationV1Api;
  /**
   * Sends one request through the rate limit, retrying retriable errors (429, 5xx, network).
   * `retriable` narrows what is retried (a create must not be retried on a network error it
   * cannot tell from success, unless the caller handles the 409 that follows, which we do).
   */
  request<T>(what: string, fn: () => Promise<T>, options?: { retriable?: (err: unknown) => boolean; signal?: AbortSignal }): Promise<T>;
  /**
   * Opens a watch (client-node's Watch) after taking a rate-limit token: `path` and `query` as the
   * API has them; resolves once it is open, to what stops it. Not retried: the caller resumes.
   */
  watchRequest(
    what: string,
    path: string,
    query: Record<string, string | number | boolean>,
    onEvent: (type: string, object: unknown) => void,
    onDone: (err: unknown) => void,
  ): Promise<{ abort(): void }>;
  /**
   * Opens a GET stream (pod logs); rejects with an error `classifyError` understands on non-200.
   * Takes no rate-limit token: kube-apiserver serves `pods/log` as a long-running request, which
   * neither its max-in-flight limit nor its flow control (APF) hold against anyone's share (see
   * `createClient`); the follower paces its own re-opens (src/kube/logs.ts).
   */
  openStream(path: string, query: Record<string, string>, signal: AbortSignal): Promise<IncomingMessage>;
}

/**
 * Builds the bundle. Makes no request.
 *
 * The rate limit counts what kube-apiserver's own limits count. Its `LongRunningFunc`
 * (pkg/controlplane/apiserver/config.go: verbs watch, proxy; subresources attach, exec, proxy,
 * log, portforward) marks a log stream long-running, and both WithMaxInFlightLimit and
 * WithPriorityAndFairness (k8s.io/apiserver pkg/server/filters) serve long-running requests other
 * than watches without taking a seat: a log stream costs the server no share of its limits, so it
 * takes no token here. Watches do (APF holds a seat while a watch initialises), as does every
 * other request. 429 with Retry-After is honoured by the retries (withRetry) whatever the bucket.
 */
export function createClient(kubeConfig: KubeConfig, options: ClientOptions = {}): KubeClient {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new KubeError('The kubeconfig has no current cluster: set current-context or give the `context` input.');
  const qps = options.qps === undefined ? DEFAULT_QPS : options.qps;
  const limiter = qps === null ? null : new TokenBucket({ qps, burst: options.burst ?? DEFAULT_BURST });
  const server = cluster.server.replace(/\/+$/, '');
  const onRequest = options.onRequest ?? ((): void => {});
  const pooled = reusingConnections(kubeConfig);
  // Log streams: client-node's own agent for them keeps no connection alive, and keeps the TLS
  // options it was first built with (a client certificate an exec plugin renews would not take
  // effect). This one keeps connections alive and, like every https.Agent, pools them per TLS
  // options given with each request (CA, client certificate and key, server name, verification).
  // Through a proxy, client-node's agent stays (it tunnels).
  // Watches on an Agent of their own, with no bound on its connections: a watch holds its
  // connection until the server ends it (kube-apiserver: 30 min or more), so on the requests'
  // Agent MAX_CONNECTIONS watches (a wide backfill's runs, each with its watch) would leave the
  // creates and reads none.
  const watch = new Watch(reusingConnections(kubeConfig, null));
  // client-node's own default is the same 30 s; set here so the engine's resume bound does not
  // move with a client-node release. The field is private in its types only (plain JS property;
  // test/engine/silent-watch.test.ts fails by its deadline if it stops taking effect).
  (watch as unknown as { requestTimeoutMs: number }).requestTimeoutMs = options.watchIdleMs ?? WATCH_IDLE_MS;
  const streamAgent = cluster.proxyUrl ? null : new https.Agent({ keepAlive: true, scheduling: 'lifo', timeout: 5000 });
  const secureContexts = new SecureContexts();
  return {
    kubeConfig: pooled,
    server,
    core: pooled.makeApiClient(CoreV1Api),
    authz: pooled.makeApiClient(AuthorizationV1Api),
    coordination: pooled.makeApiClient(CoordinationV1Api),
    async watchRequest(what, path, query, onEvent, onDone) {
      await limiter?.take();
      onRequest(what);
      return watch.watch(path, query, onEvent, onDone);
    },
    request<T>(what: string, fn: () => Promise<T>, opts: { retriable?: (err: unknown) => boolean; signal?: AbortSignal } = {}): Promise<T> {
      return withRetry(
        async () => {
          await limiter?.take();
          onRequest(what);
          return fn();
        },
        { ...options.retry, ...opts },
      );
    },
    async openStream(path: string, query: Record<string, string>, signal: AbortSignal): Promise<IncomingMessage> {
      // No token (see the interface): the limit counts what the API server counts.
      onRequest(`GET ${path}`);
      const url = new URL(server + path);
      for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
      const opts: https.RequestOptions & tls.ConnectionOptions = { method: 'GET', headers: {} };
      await kubeConfig.applyToHTTPSOptions(opts);
      const lib = url.protocol === 'http:' ? http : https;
      if (streamAgent && lib === https) {
        opts.agent = streamAgent;
        // One TLS context for all log streams with the same TLS options, not one per connection
        // (tls.connect builds one from ca/cert/key each time: ~50 KB of native memory apiece,
        // 200 streams at a time). The options stay in `opts`, so the agent still pools by them.
        opts.secureContext = secureContexts.get(opts);
      }
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

/**
 * The TLS context for a request's TLS options, the last one kept: built again only when the
 * options change (a client certificate an exec plugin renewed).
 */
class SecureContexts {
  #key: string | null = null;
  #context: tls.SecureContext | null = null;

  get(o: https.RequestOptions): tls.SecureContext {
    const pem = (v: unknown): string => (v == null ? '' : Array.isArray(v) ? v.map(pem).join('\0') : Buffer.isBuffer(v) ? v.toString('latin1') : String(v));
    const key = [pem(o.ca), pem(o.cert), pem(o.key), pem(o.pfx), pem(o.passphrase)].join('\u0001');
    if (this.#context === null || key !== this.#key) {
      this.#context = tls.createSecureContext({ ca: o.ca, cert: o.cert, key: o.key, pfx: o.pfx, passphrase: o.passphrase });
      this.#key = key;
    }
    return this.#context;
  }
}

/**
 * A view of `kubeConfig` whose typed-API requests (or watches: `createClient` makes one for each) reuse
 * connections, at most `maxConnections` at once (null: no bound).
 *
 * client-node 2.x builds a new undici Agent, so a new connection and TLS handshake, for every
 * request (`applySecurityAuthentication` → `createDispatcher`). The view keeps the Agent it built
 * last while the TLS options it was built from stay the same (CA, client certificate and key,
 * server name, verification), so a client certificate an exec plugin renews gets a new Agent
 * (the old one's idle connections close on their own). Everything else is client-node's: the
 * headers (tokens, exec plugins), and the dispatchers of proxies (HTTP and SOCKS) and of servers
 * without TLS options, which are left as they are. Its Agent speaks HTTP/1.1 only (`http1Only`
 * says why). The view delegates to `kubeConfig` (its
 * prototype), which is not changed.
 *
 * `createDispatcher` is private in client-node's types: should a later version rename it, the
 * view changes nothing and requests open connections as before (test/kube/client.test.ts fails).
 */
export function reusingConnections(kubeConfig: KubeConfig, maxConnections: number | null = MAX_CONNECTIONS): KubeConfig {
  const build: unknown = Reflect.get(kubeConfig, 'createDispatcher');
  if (typeof build !== 'function') return kubeConfig;
  let last: { key: string; dispatcher: unknown } | null = null;
  const view = Object.create(kubeConfig) as KubeConfig;
  Object.defineProperty(view, 'createDispatcher', {
    value(cluster: Cluster | null, agentOptions: https.AgentOptions): unknown {
      const options = kubeConfig.createDispatcherOptions(cluster, agentOptions);
      const key = options.type === 'agent' ? fingerprint(options.connect) : null;
      if (key === null || options.type !== 'agent') return build.call(kubeConfig, cluster, agentOptions);
      if (last?.key !== key) last = { key, dispatcher: http1Only(build.call(kubeConfig, cluster, agentOptions), options.connect, maxConnections) };
      return last.dispatcher;
    },
  });
  return view;
}

/**
 * The most connections the typed requests keep open to the API server at once (an
 * undici Agent opens one per request in flight otherwise, without bound). Requests beyond it wait
 * in the Agent's queue for a free connection. Why: each TLS connection holds ~100-200 KB of native
 * memory (OpenSSL's buffers and context, the socket's), and a wide DAG with the rate limit lifted
 * had ~200 of them open, besides its log streams (BENCHMARKS.md, row 2: peak RSS 60-90 MB lower
 * at 2,000 tasks with 32, and no slower: fewer TLS handshakes). At the shipped rate limit (50
 * requests/s) a few are enough once the burst is spent. Watches, which hold their connection as long
 * as they last, are on an Agent of their own without this bound (`createClient`).
 */
export const MAX_CONNECTIONS = 32;

/**
 * The same kind of undici Agent as client-node's `built`, speaking HTTP/1.1 only (`allowH2:
 * false`); `built` itself if it is not one (then nothing changes).
 *
 * Why: undici 8 negotiates HTTP/2, and kube-apiserver (UnauthenticatedHTTP2DOSMitigation) answers
 * a request it cannot authenticate with 401 and a GOAWAY sent *before* the 401's headers. Every
 * other request multiplexed on that connection and not yet taken by the server is refused, and
 * undici cannot replay it (fetch sends the body as a stream): it fails as `fetch failed` /
 * `HTTP/2: "GOAWAY" frame received with code 0`, a network error. Measured on v1.36.3, 8
 * SelfSubjectAccessReviews with a wrong token sent 3 ms apart on one Agent: over HTTP/2 one 401
 * and 7 GOAWAY errors (preflight could report "could not be reached"); over HTTP/1.1 eight 401s.
 * A graceful GOAWAY (`--goaway-chance`, an API server restarting) hits the same requests.
 * HTTP/1.1 costs a connection per request in flight (at most MAX_CONNECTIONS), kept alive and
 * reused (as client-node 1.x and our log streams do); the few watches a run opens hold one each, which also keeps long
 * watches and many concurrent requests clear of the streams kube-apiserver allows per HTTP/2
 * connection (--http2-max-streams-per-connection).
 */
function http1Only(built: unknown, connect: object, maxConnections: number | null): unknown {
  const Agent = built !== null && typeof built === 'object' ? (built.constructor as unknown) : null;
  if (typeof Agent !== 'function' || Agent.name !== 'Agent' || typeof (built as { close?: unknown }).close !== 'function') return built;
  void (built as { close(): Promise<void> }).close().catch(() => {});
  return new (Agent as new (options: object) => unknown)({ connect, allowH2: false, ...(maxConnections === null ? {} : { connections: maxConnections }) });
}

/**
 * A digest of connection options (strings, buffers, numbers, booleans, or arrays of them), so
 * that no key material is kept as a map key; null for anything else (then nothing is reused).
 */
function fingerprint(options: object): string | null {
  const hash = createHash('sha256');
  for (const [name, value] of Object.entries(options).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (value === undefined) continue;
    for (const part of Array.isArray(value) ? (value as unknown[]) : [value]) {
      if (Buffer.isBuffer(part)) hash.update(`${name}:buffer:${part.length}:`).update(part);
      else if (typeof part === 'string') hash.update(`${name}:string:${part.length}:`).update(part);
      else if (typeof part === 'number' || typeof part === 'boolean') hash.update(`${name}:${typeof part}:${String(part)};`);
      else return null;
    }
  }
  return hash.digest('hex');
}

/** Re-exported so callers sleep the same way. */
export { abortableSleep };

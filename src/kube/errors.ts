/**
 * Kubernetes API errors, classified in ONE place (as client-go's retrywatcher and util/retry do).
 *
 * Every failure of a request to the API server goes through `classifyError`, which says what the
 * status means for us and whether trying again can help. Nothing else in the code looks at HTTP
 * status codes. The meaning of each status:
 *
 * - 401 Unauthorized: the credential is missing, wrong or expired. Stop; retrying cannot help.
 * - 403 Forbidden: authenticated, but RBAC refuses (stop; name the verb and resource so the user
 *   can grant it), or admission refuses the object (an exceeded ResourceQuota, PodSecurity, a
 *   webhook: a configuration error, in the server's words).
 * - 404 NotFound: the object (or the namespace) does not exist. For a delete it is success.
 * - 409 Conflict / AlreadyExists: on create, our deterministic pod name exists already, so the
 *   pod is adopted (a re-run or a retried request that reached the server); on update, a
 *   resourceVersion conflict.
 * - 410 Gone: a watch's resourceVersion is too old (etcd compacted it). List again.
 * - 400 BadRequest: the server could not decode the object; with `fieldValidation=Strict` (every
 *   pod we create) a field it does not know ("strict decoding error: unknown field ..."). A
 *   configuration error, with the server's own message. Never retried.
 * - 422 Invalid: the cluster rejected the object's schema; a configuration error whose `causes`
 *   name the fields. Never retried.
 * - 429 TooManyRequests: API priority and fairness or a proxy throttles us. Retry after the
 *   server's Retry-After, else with backoff.
 * - 500, 502, 503, 504: the server or a proxy in front of it failed. Retry after Retry-After or
 *   with backoff.
 * - Network errors (connection refused or reset, DNS, timeouts): the server could not be reached.
 *   Retried a few times (a flaky network), then reported with the server's URL and what to check.
 * - TLS errors (unknown CA, name mismatch, expired certificate): never retried; they name the
 *   server and the fix (certificate-authority-data).
 */

import { KUBERNETES_VERSION } from '../spec/k8s/pod-openapi.ts';

/** What an error from the API server (or the way to it) means for us. */
import { abortableSleep, systemClock } from '../common/clock.ts';
import { UserError } from '../common/errors.ts';
import { withoutUrlCredentials } from '../common/url-credentials.ts';
import { parseQuantity } from './quantity.ts';

export type KubeErrorKind =
  | 'unauthorized'
  | 'forbidden'
  | 'not-found'
  | 'conflict'
  | 'gone'
  | 'invalid'
  | 'bad-request'
  | 'throttled'
  | 'server'
  | 'network'
  | 'tls'
  | 'timeout'
  | 'aborted'
  | 'unknown';

/** A classified API error. */
export interface KubeErrorInfo {
  kind: KubeErrorKind;
  /** The HTTP status, when there was a response. */
  status: number | null;
  /** The `reason` of the Kubernetes Status body (`AlreadyExists`, `Forbidden`, `Invalid`…). */
  reason: string | null;
  /** The server's message, or the network error's. */
  message: string;
  /** The `details.causes` of a 422, as `field: message`. */
  causes: string[];
  /** How long the server asked us to wait (Retry-After), in ms. */
  retryAfterMs: number | null;
  /** Whether the same request may succeed if sent again later. */
  retriable: boolean;
}

/** An error we raise ourselves with a message fit for the user (no stack trace needed). */
export class KubeError extends UserError {
  /** The classification of the underlying API error, when there was one. */
  readonly info: KubeErrorInfo | null;

  constructor(message: string, info: KubeErrorInfo | null = null, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KubeError';
    this.info = info;
  }
}

const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_SIGNATURE_FAILURE',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'EPROTO',
]);

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** Walks `err.cause` chains (fetch wraps the socket error in `TypeError: fetch failed`). */
function causes(err: unknown): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  let cur: unknown = err;
  for (let i = 0; i < 6 && cur !== null && typeof cur === 'object'; i++) {
    out.push(cur as Record<string, unknown>);
    cur = (cur as { cause?: unknown }).cause;
  }
  return out;
}

/** Parses a Kubernetes `Status` body, which client-node hands over as text or an object. */
function parseStatusBody(body: unknown): { reason: string | null; message: string | null; causes: string[]; retryAfterSeconds: number | null } {
  let obj: unknown = body;
  if (typeof body === 'string') {
    try {
      obj = JSON.parse(body);
    } catch {
      return { reason: null, message: body.trim() || null, causes: [], retryAfterSeconds: null };
    }
  }
  if (obj === null || typeof obj !== 'object') return { reason: null, message: null, causes: [], retryAfterSeconds: null };
  const s = obj as { reason?: unknown; message?: unknown; details?: { causes?: unknown; retryAfterSeconds?: unknown } };
  const list = Array.isArray(s.details?.causes) ? (s.details.causes as { field?: string; message?: string }[]) : [];
  return {
    reason: typeof s.reason === 'string' ? s.reason : null,
    message: typeof s.message === 'string' ? s.message : null,
    causes: list.map((c) => (c.field ? `${c.field}: ${c.message ?? ''}` : (c.message ?? ''))).filter((c) => c !== ''),
    retryAfterSeconds: typeof s.details?.retryAfterSeconds === 'number' ? s.details.retryAfterSeconds : null,
  };
}

/** Reads Retry-After (seconds or an HTTP date) from a header bag. */
export function retryAfterMs(headers: unknown, now: number = systemClock.now()): number | null {
  if (headers === null || typeof headers !== 'object') return null;
  const h = headers as Record<string, unknown>;
  const raw = h['retry-after'] ?? h['Retry-After'];
  if (typeof raw !== 'string' || raw.trim() === '') return null;
  const secs = Number(raw);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const date = Date.parse(raw);
  return Number.isFinite(date) ? Math.max(0, date - now) : null;
}

function kindOfStatus(status: number): KubeErrorKind {
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not-found';
  if (status === 409) return 'conflict';
  if (status === 410) return 'gone';
  if (status === 422) return 'invalid';
  if (status === 429) return 'throttled';
  if (status === 400) return 'bad-request';
  if (status === 504 || status === 408) return 'timeout';
  if (status >= 500) return 'server';
  return 'unknown';
}

/**
 * Classifies anything a request to the API server may throw: client-node's `ApiException`
 * (`code`, `body`, `headers`), the Watch's `statusCode` errors, a Kubernetes `Status` object seen
 * in a watch ERROR event, and Node/undici network and TLS errors.
 */
export function classifyError(err: unknown): KubeErrorInfo {
  if (err instanceof KubeError && err.info) return err.info;
  const chain = causes(err);
  const top = chain[0] ?? {};
  // A Status object (from a watch ERROR event) or an ApiException.
  const status =
    typeof top.code === 'number' && top.code >= 100
      ? top.code
      : typeof top.statusCode === 'number'
        ? top.statusCode
        : top.kind === 'Status' && typeof top.code === 'number'
          ? top.code
          : null;
  if (status !== null) {
    const parsed = parseStatusBody(top.kind === 'Status' ? top : top.body);
    const kind = kindOfStatus(status);
    const headerWait = retryAfterMs(top.headers);
    const wait = headerWait ?? (parsed.retryAfterSeconds !== null ? parsed.retryAfterSeconds * 1000 : null);
    return {
      kind,
      status,
      reason: parsed.reason,
      message: parsed.message ?? (typeof top.message === 'string' && !top.message.startsWith('HTTP-Code') ? top.message : `HTTP ${status}`),
      causes: parsed.causes,
      retryAfterMs: wait,
      retriable: kind === 'throttled' || kind === 'server' || kind === 'timeout',
    };
  }
  for (const c of chain) {
    const code = typeof c.code === 'string' ? c.code : null;
    const msg = typeof c.message === 'string' ? c.message : String(c);
    if (c.name === 'AbortError' && !(typeof c.message === 'string' && c.message.includes('timeout'))) {
      return info('aborted', msg, false);
    }
    if (c.name === 'TimeoutError') return info('timeout', msg, true);
    if (code && TLS_CODES.has(code)) return info('tls', `${code}: ${msg}`, false);
    if (code && (code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || code.includes('CERT'))) return info('tls', `${code}: ${msg}`, false);
    if (code && TIMEOUT_CODES.has(code)) return info('timeout', `${code}: ${msg}`, true);
    if (code && NETWORK_CODES.has(code)) return info('network', `${code}: ${msg}`, true);
  }
  const msg = typeof top.message === 'string' ? top.message : String(err);
  // `fetch failed` says nothing: its innermost cause says what failed.
  const inner = chain.map((c) => (typeof c.message === 'string' ? c.message : '')).filter((m) => m !== '').at(-1) ?? msg;
  if (/fetch failed|socket hang up|terminated|other side closed/i.test(msg)) return info('network', inner, true);
  return info('unknown', msg, false);
}

function info(kind: KubeErrorKind, message: string, retriable: boolean): KubeErrorInfo {
  return { kind, status: null, reason: null, message, causes: [], retryAfterMs: null, retriable };
}

/** The default `retriable` predicate: throttling, server errors, timeouts and network blips. */
export function isRetriable(err: unknown): boolean {
  return classifyError(err).retriable;
}

/** What to check for a failed TLS handshake, by what failed (the error's code leads its message). */
function tlsAdvice(message: string): string {
  if (/^(ERR_SSL_WRONG_VERSION_NUMBER|EPROTO)\b|wrong version number/.test(message)) {
    return 'What answers there does not speak TLS: check that the server URL is the API server\'s https:// address and port (not a plain-HTTP port, a proxy or a dashboard).';
  }
  if (/^CERT_HAS_EXPIRED\b/.test(message)) return "The server's certificate has expired (or the runner's clock is wrong): renew the API server's certificate.";
  if (/^CERT_NOT_YET_VALID\b/.test(message)) return "The server's certificate is not valid yet: check the runner's clock and the certificate's dates.";
  if (/^ERR_TLS_CERT_ALTNAME_INVALID\b/.test(message)) {
    return "The server's certificate does not name the host of the server URL: use the address the certificate was issued for (kubectl config view --minify shows the kubeconfig's), or add it to the certificate's names.";
  }
  return "The server's certificate is not trusted: give the cluster's CA in certificate-authority-data (or the kubeconfig's certificate-authority-data) and check that the server URL matches the certificate.";
}

/**
 * A sentence for the user about a failed request: what failed, what the server said, what to do.
 * `what` names the request ("create pod x in namespace y"); `server` is the API server's URL.
 */
export function describeError(err: unknown, what: string, server: string | null): string {
  const e = classifyError(err);
  // A server URL's password is masked, but is not shown at all: the user knows which server.
  const at = server ? ` at ${withoutUrlCredentials(server)}` : '';
  switch (e.kind) {
    case 'unauthorized':
      return `Could not ${what}: the Kubernetes API server${at} rejected the credentials (401 Unauthorized). The token or client certificate is wrong or expired; check the kubeconfig/token input or the step that wrote ~/.kube/config.`;
    case 'forbidden':
      // RBAC says who cannot do what ("pods is forbidden: User ... cannot create resource ...").
      // Admission refuses the object itself (ResourceQuota, PodSecurity, a webhook), which no Role
      // can fix, and says so as `<kind> "<name>" is forbidden: <why>` or in a webhook's words.
      // Anything else (a bare "Forbidden"; a read, which admission never sees) is read as RBAC.
      if (isAdmissionRefusal(e.message)) {
        const a = admissionRefusal(e.message);
        return `Could not ${what}: refused by the namespace's admission policy (403${a.by === 'admission' ? '' : `, ${a.by}`}). ${e.message}. ${a.todo}`;
      }
      return `Could not ${what}: forbidden (403). ${e.message}. Grant the permission with a Role bound to this identity (see the README's minimal Role).`;
    case 'not-found':
      return `Could not ${what}: not found (404). ${e.message}`;
    case 'invalid':
      return `Could not ${what}: the cluster rejected it as invalid (422). ${e.message}${e.causes.length ? ` (${e.causes.join('; ')})` : ''}`;
    case 'bad-request':
      if (/strict decoding error/.test(e.message)) {
        return `Could not ${what}: the cluster does not know a field of it (400 BadRequest, field validation Strict). ${e.message}. The spec's pod: fields are checked offline against Kubernetes ${KUBERNETES_VERSION}: check that the cluster's version has this field.`;
      }
      return `Could not ${what}: the cluster refused the request (400 BadRequest). ${e.message}`;
    case 'tls':
      return `Could not ${what}: TLS handshake with the API server${at} failed (${e.message.split('\n')[0]!.replace(/: [0-9A-F]{8,}:error:.*$/, '')}). ${tlsAdvice(e.message)}`;
    case 'network':
    case 'timeout':
      return `Could not ${what}: the API server${at} could not be reached (${e.message}). Check the server URL, that the cluster is running, and that the runner can reach it (firewall, VPN, private endpoint).`;
    case 'throttled':
      return `Could not ${what}: the API server kept throttling requests (429 Too Many Requests). ${e.message}`;
    case 'server':
      return `Could not ${what}: the API server answered ${e.status ?? ''} ${e.message}`.trim();
    default:
      return `Could not ${what}: ${e.status ? `HTTP ${e.status} ` : ''}${e.message}`;
  }
}

/** Sleeps `ms`, or rejects with the signal's reason as soon as it aborts (src/common/clock.ts). */
export { abortableSleep };

/** Options of `withRetry`. */
export interface RetryOptions {
  /** Whether an error may go away if the request is sent again; default `isRetriable`. */
  retriable?: (err: unknown) => boolean;
  /** Attempts in all, the first included; default 6. */
  attempts?: number;
  /** First backoff in ms (doubled each time, with jitter); default 200. */
  baseMs?: number;
  /** Longest single wait in ms; default 10 s. */
  maxMs?: number;
  /**
   * The whole budget in ms, waits included: no retry starts once its wait would pass it; default
   * 2 minutes. With the attempts and the 60 s cap on a Retry-After, a request fails in bounded time.
   */
  budgetMs?: number;
  /** The clock, for the budget; tests inject a fake. */
  now?: () => number;
  /** Waits; tests inject a fake. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Jitter source in [0, 1); default Math.random. */
  random?: () => number;
  signal?: AbortSignal;
  /** Told about each retry (for a debug line). */
  onRetry?: (err: unknown, attempt: number, waitMs: number) => void;
}

/**
 * Runs `fn` until it succeeds, fails with an error `retriable` rejects, or runs out of attempts.
 * Waits the server's Retry-After when given, else exponential backoff with jitter (client-go's
 * `retry.OnError` with a `wait.Backoff`).
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const retriable = options.retriable ?? isRetriable;
  const attempts = options.attempts ?? 6;
  const base = options.baseMs ?? 200;
  const max = options.maxMs ?? 10_000;
  const sleep = options.sleep ?? abortableSleep;
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  const deadline = now() + (options.budgetMs ?? 120_000);
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= attempts || !retriable(err) || options.signal?.aborted) throw err;
      const server = classifyError(err).retryAfterMs;
      const backoff = Math.min(max, base * 2 ** (attempt - 1));
      const wait = server !== null ? Math.min(server, 60_000) : Math.round(backoff * (0.5 + random() / 2));
      if (now() + wait > deadline) throw err;
      options.onRetry?.(err, attempt, wait);
      await sleep(wait, options.signal);
    }
  }
}

/**
 * A client-side token bucket (client-go's `flowcontrol.NewTokenBucketRateLimiter(qps, burst)`):
 * up to `burst` requests at once, refilled at `qps` per second. `take()` resolves when a token is
 * free. Keeps a burst of pod creations (a wide DAG) from tripping the server's throttling.
 */
export class TokenBucket {
  readonly #qps: number;
  readonly #burst: number;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  #tokens: number;
  #last: number;
  #queue: Promise<void> = Promise.resolve();

  constructor(options: { qps: number; burst: number; now?: () => number; sleep?: (ms: number) => Promise<void> }) {
    if (!(options.qps > 0) || !(options.burst >= 1)) {
      throw new Error(`TokenBucket needs qps > 0 and burst >= 1, got qps=${options.qps} burst=${options.burst}`);
    }
    this.#qps = options.qps;
    this.#burst = options.burst;
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? ((ms) => abortableSleep(ms));
    this.#tokens = options.burst;
    this.#last = this.#now();
  }

  #refill(): void {
    const now = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.#qps);
    this.#last = now;
  }

  /** Waits for a token and takes it. Callers are served in order. */
  take(): Promise<void> {
    const next = this.#queue.then(async () => {
      this.#refill();
      while (this.#tokens < 1) {
        await this.#sleep(Math.ceil(((1 - this.#tokens) / this.#qps) * 1000));
        this.#refill();
      }
      this.#tokens -= 1;
    });
    this.#queue = next;
    return next;
  }
}

/** What refused a pod at admission, what to do about it, and whether it can pass later unchanged. */
export interface AdmissionRefusal {
  /** Which admission control refused it ("ResourceQuota", "the ServiceAccount admission plugin"...). */
  by: string;
  /** What to do, in a sentence or two. */
  todo: string;
  /**
   * True only when the same pod may be admitted later as it is: a ResourceQuota used up by other
   * pods now (each resource the pod requests fits the quota's hard limit on its own). Everything
   * else is refused again until the spec or the cluster's policy changes.
   */
  mayPassLater: boolean;
}

/**
 * Reads a 403 admission message as kube-apiserver (v1.36) words it: the ServiceAccount plugin
 * (`error looking up service account ns/sa: serviceaccount "sa" not found`), ResourceQuota
 * (`exceeded quota: q, requested: cpu=2, used: cpu=3, limited: cpu=4`; `failed quota: q: must
 * specify limits.cpu for: main`), LimitRange (`maximum cpu usage per Container is 1, but limit is
 * 3`), PodSecurity (`violates PodSecurity "restricted:latest": ...`) and validating webhooks
 * (`admission webhook "w" denied the request: ...`).
 */
export function admissionRefusal(message: string): AdmissionRefusal {
  const sa = /error looking up service account ([^/\s]+)\/(\S+): serviceaccount "[^"]*" not found/.exec(message);
  if (sa) {
    const [, ns, name] = sa;
    const none = name === 'default' ? ` The task names no pod.serviceAccountName, so it runs as "default", which Kubernetes creates in every namespace and which is missing from ${ns}.` : '';
    return {
      by: 'the ServiceAccount admission plugin',
      todo: `The ServiceAccount "${name}" does not exist in namespace ${ns}: create it (kubectl -n ${ns} create serviceaccount ${name}) or correct pod.serviceAccountName in the spec.${none}`,
      mayPassLater: false,
    };
  }
  const exceeded = /exceeded quota: ([^,]+), requested: (.*?), used: (.*?), limited: (.*)$/.exec(message);
  if (exceeded) {
    const [, quota, requested, , limited] = exceeded;
    const hard = quantities(limited!);
    const tooBig = [...quantities(requested!)].filter(([r, q]) => hard.has(r) && q > hard.get(r)!).map(([r]) => r);
    if (tooBig.length > 0) {
      return {
        by: 'ResourceQuota',
        todo: `The task asks for more ${tooBig.join(', ')} than the ResourceQuota "${quota}" allows in all, so it can never be admitted: lower the task's resources, or ask the cluster's administrators to raise the quota.`,
        mayPassLater: false,
      };
    }
    return {
      by: 'ResourceQuota',
      todo: `Other pods use up the ResourceQuota "${quota}" now; the pod fits it once they finish. Give the task a retries.infrastructure budget long enough to wait for them, lower maxParallel so the run's own pods fit the quota, or ask the cluster's administrators to raise it.`,
      mayPassLater: true,
    };
  }
  const failedQuota = /failed quota: ([^:]+): must specify (.*)$/.exec(message);
  if (failedQuota) {
    return {
      by: 'ResourceQuota',
      todo: `The ResourceQuota "${failedQuota[1]}" requires every pod to set ${failedQuota[2]}: set them in the task's resources (or in defaults.resources).`,
      mayPassLater: false,
    };
  }
  if (/\b(maximum|minimum) \S+ usage per (Container|Pod)\b|\bmust be less than or equal to \S+ limit\b|limit to request ratio/.test(message)) {
    return { by: 'LimitRange', todo: "A LimitRange in the namespace bounds each container's resources: fit the task's resources within it (kubectl describe limitrange -n NAMESPACE shows the bounds).", mayPassLater: false };
  }
  const pss = /violates PodSecurity "([^":]+)(?::[^"]*)?"/.exec(message);
  if (pss) {
    return {
      by: 'PodSecurity',
      todo: `The namespace enforces the PodSecurity level "${pss[1]}" (its label pod-security.kubernetes.io/enforce): change the task's pod.securityContext and pod.containerSecurityContext as the message says, or ask the cluster's administrators for another level.`,
      mayPassLater: false,
    };
  }
  const webhook = /admission webhook "([^"]+)" denied the request/.exec(message);
  if (webhook) {
    return { by: `the validating admission webhook "${webhook[1]}"`, todo: "Change the task as the webhook's message says, or ask the webhook's owners.", mayPassLater: false };
  }
  return { by: 'admission', todo: "Change the task (resources, securityContext...) to fit the namespace's policy, or ask the cluster's administrators to change it.", mayPassLater: false };
}

/** `cpu=2,memory=1Gi` as resource → amount (unparseable amounts left out). */
function quantities(list: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const part of list.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const q = parseQuantity(part.slice(eq + 1).trim());
    if (q !== null) out.set(part.slice(0, eq).trim(), q);
  }
  return out;
}

/** Whether a 403's message is admission refusing an object (not RBAC refusing a request). */
export function isAdmissionRefusal(message: string): boolean {
  if (/\bcannot \S+ resource\b/.test(message)) return false;
  return /\bis forbidden: (?!User\b)|exceeded quota|failed quota|violates PodSecurity|admission webhook|denied the request/.test(message);
}

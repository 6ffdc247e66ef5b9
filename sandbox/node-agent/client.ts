/**
 * A small JSON client for the Kubernetes API, as one identity (a node's client certificate, or a
 * bearer token): requests over one keep-alive agent, and watches read line by line. The node
 * agent needs exact control of patch types, preconditions and watch resumption, which is less
 * code here than around a generated client.
 */
import { Agent, request as httpsRequest } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { KObject } from '../selectors.ts';

/** Who the client is: a client certificate (a node: CN=system:node:<name>, O=system:nodes) or a bearer token. */
export type Credentials = { certPem: string; keyPem: string } | { token: string };

/** A Kubernetes object as JSON: the sandbox's object shape (selectors.ts), with what the node agent reads typed. */
export interface KubeObject extends KObject {
  metadata: KObject['metadata'] & { generation?: number; deletionTimestamp?: string; deletionGracePeriodSeconds?: number };
  spec?: unknown;
  status?: unknown;
}

/** An API answer other than 2xx: the status code and the server's `Status` message. */
export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;

  constructor(method: string, path: string, code: number, body: string) {
    let message = body.trim();
    let reason = '';
    try {
      const status = JSON.parse(body) as { message?: string; reason?: string };
      message = status.message ?? message;
      reason = status.reason ?? '';
    } catch {
      // not a Status body: keep the text
    }
    super(`${method} ${path}: ${code}${reason ? ` ${reason}` : ''}: ${message}`);
    this.code = code;
    this.reason = reason;
  }
}

/** One event of a watch. */
export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: KubeObject & { code?: number; message?: string };
}

/** A watch in progress; `close()` ends it without calling `onEnd`. */
export interface WatchHandle {
  close(): void;
}

/** Requests to one API server as one identity. */
export class ApiClient {
  readonly #server: URL;
  readonly #agent: Agent;
  readonly #headers: Record<string, string>;
  readonly #open = new Set<{ destroy(): void }>();
  #closed = false;

  constructor(server: string, caPem: string, credentials: Credentials) {
    this.#server = new URL(server);
    const tls = 'token' in credentials ? {} : { cert: credentials.certPem, key: credentials.keyPem };
    this.#agent = new Agent({ keepAlive: true, ca: caPem, ...tls });
    this.#headers = 'token' in credentials ? { Authorization: `Bearer ${credentials.token}` } : {};
  }

  /** Sends a request; resolves with the parsed JSON answer, rejects with an ApiError for a non-2xx. */
  async request<T = KubeObject>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    if (this.#closed) throw new Error(`${method} ${path}: the client is closed`);
    const res = await this.#send(method, path, body, contentType);
    const text = await readAll(res);
    if ((res.statusCode ?? 0) >= 300) throw new ApiError(method, path, res.statusCode ?? 0, text);
    return (text ? JSON.parse(text) : {}) as T;
  }

  #send(method: string, path: string, body: unknown, contentType: string): Promise<IncomingMessage> {
    const data = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = httpsRequest(new URL(path, this.#server), {
        method,
        agent: this.#agent,
        headers: {
          ...this.#headers,
          Accept: 'application/json',
          'User-Agent': 'pod-dag-action-node-agent',
          ...(data === undefined ? {} : { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(data) }),
        },
      }, (res) => {
        this.#open.delete(req);
        resolve(res);
      });
      this.#open.add(req);
      req.on('error', (err) => {
        this.#open.delete(req);
        reject(new Error(`${method} ${path}: ${err.message}`));
      });
      req.end(data);
    });
  }

  /**
   * Watches `path` (a collection, query included) from `resourceVersion`: calls `onEvent` per
   * event, and `onEnd` once when the stream ends or fails (then resume, or re-list on 410).
   */
  watch(path: string, resourceVersion: string, onEvent: (e: WatchEvent) => void, onEnd: (err?: Error) => void): WatchHandle {
    const sep = path.includes('?') ? '&' : '?';
    const full = `${path}${sep}watch=true&allowWatchBookmarks=true&timeoutSeconds=300&resourceVersion=${encodeURIComponent(resourceVersion)}`;
    let stopped = false;
    let res: IncomingMessage | undefined;
    const end = (err?: Error): void => {
      if (stopped) return;
      stopped = true;
      onEnd(err);
    };
    this.#send('GET', full, undefined, '').then((r) => {
      res = r;
      if (stopped) {
        r.destroy();
        return;
      }
      if ((r.statusCode ?? 0) >= 300) {
        void readAll(r).then((text) => end(new ApiError('GET', full, r.statusCode ?? 0, text)));
        return;
      }
      this.#open.add(r);
      r.setEncoding('utf8');
      let buf = '';
      r.on('data', (chunk: string) => {
        buf += chunk;
        for (let nl = buf.indexOf('\n'); nl !== -1 && !stopped; nl = buf.indexOf('\n')) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.trim()) onEvent(JSON.parse(line) as WatchEvent);
        }
      });
      r.on('end', () => {
        this.#open.delete(r);
        end();
      });
      r.on('error', (err) => {
        this.#open.delete(r);
        end(err);
      });
    }, (err: Error) => end(err));
    return {
      close: () => {
        stopped = true;
        res?.destroy();
      },
    };
  }

  /** Ends every request and watch, and the connections. */
  close(): void {
    this.#closed = true;
    for (const r of this.#open) r.destroy();
    this.#open.clear();
    this.#agent.destroy();
  }
}

function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (c: string) => (text += c));
    res.on('end', () => resolve(text));
    res.on('error', reject);
  });
}

/**
 * The few pod calls the engine makes, behind one narrow interface: create, read, delete, list,
 * watch, and stream a log. `kubePodApi` implements it with the connected client (its rate limit,
 * its retries, its connection reuse); tests implement it in memory (test/helpers/fake-pods.ts),
 * so the engine can be tested in milliseconds, and an engine bug told from a cluster bug.
 *
 * Errors are what the API answers, shaped so `classifyError` (src/kube/errors.ts) reads them:
 * a fake throws `{ code: 409 }` where the real one throws client-node's ApiException with code 409.
 *
 * Later calls fit the same shape: a delete by label selector (a batch of finished pods), or
 * annotations that prove a pod is ours, are more methods here and more fields of the pod.
 */
import type { Readable } from 'node:stream';
import { Observable, type ConfigurationOptions, type RequestContext, type ResponseContext, type V1Pod } from '@kubernetes/client-node';
import type { KubeClient } from './client.ts';

/**
 * Request options that send `pod` as it was rendered. client-node's serializer copies only the
 * fields its V1Pod model knows, so without this a field the model does not know (a typo, or one
 * newer than the client) would be dropped on our side, silently, and the API server's strict
 * field validation would never see it.
 */
function sendAsRendered(pod: V1Pod): ConfigurationOptions {
  const middleware = {
    pre: (context: RequestContext): Observable<RequestContext> => {
      context.setBody(JSON.stringify(pod));
      return new Observable(Promise.resolve(context));
    },
    post: (context: ResponseContext): Observable<ResponseContext> => new Observable(Promise.resolve(context)),
  };
  return { middleware: [middleware], middlewareMergeStrategy: 'append' };
}

/** A list of pods and the resourceVersion to watch from. */
export interface PodList {
  items: V1Pod[];
  resourceVersion: string;
}

/** Where a watch starts and how long the server keeps it open. */
export interface WatchFrom {
  resourceVersion: string;
  /** The server ends the watch after this many seconds (the caller then resumes). */
  timeoutSeconds: number;
}

/** What a log read asks for (the pod log API's query). */
export interface LogQuery {
  container: string;
  follow: boolean;
  /** RFC 3339: only lines stamped at or after it (the API server passes it on to the second). */
  sinceTime?: string;
}

/** The pod calls the engine needs. Every call is one API request (or one open stream). */
export interface PodApi {
  /** The API server's URL, for messages. */
  readonly server: string;
  /** Creates the pod; `dryRun` only asks whether the cluster would accept it. Not retried after a network error unless safe (see the engine). */
  create(namespace: string, pod: V1Pod, options?: { dryRun?: boolean }): Promise<V1Pod>;
  read(namespace: string, name: string): Promise<V1Pod>;
  /** Deletes the pod with the grace period given (in the background: its containers stop after). */
  delete(namespace: string, name: string, options: { gracePeriodSeconds: number }): Promise<void>;
  list(namespace: string, selector: string, options?: { signal?: AbortSignal }): Promise<PodList>;
  /**
   * Opens a watch of the pods matching `selector` from `from.resourceVersion` (with bookmarks).
   * `onEvent` gets each event's type (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR) and object;
   * `onDone` is called once when the watch ends (an error, or null/undefined when it just ended).
   * Resolves once the watch is open, to what stops it.
   */
  watch(
    namespace: string,
    selector: string,
    from: WatchFrom,
    onEvent: (type: string, object: unknown) => void,
    onDone: (err: unknown) => void,
  ): Promise<{ abort(): void }>;
  /** Opens the container's log, timestamped; rejects with an error `classifyError` understands on non-200. */
  log(namespace: string, name: string, query: LogQuery, signal: AbortSignal): Promise<Readable>;
}

/** The PodApi of a connected client: every call through its rate limit, requests with its retries. */
export function kubePodApi(client: KubeClient): PodApi {
  return {
    server: client.server,
    create: (namespace, pod, options = {}) => {
      const name = pod.metadata?.name ?? '';
      // Strict: a field the server does not know is a 400, not a warning and a dropped field
      // (a misspelt affinity would let the pod run on any node). The spec layer checks the same
      // offline against the pinned release; this catches a cluster of another version.
      const fieldValidation = 'Strict';
      const asRendered = sendAsRendered(pod);
      if (options.dryRun) {
        return client.request(`create pod ${name} (dry run)`, () => client.core.createNamespacedPod({ namespace, body: pod, dryRun: 'All', fieldValidation }, asRendered));
      }
      // Retrying a create after a network error is safe for the engine: if the first one reached
      // the server, the retry answers 409 and the engine adopts the pod (after checking its labels).
      return client.request(`create pod ${name}`, () => client.core.createNamespacedPod({ namespace, body: pod, fieldValidation }, asRendered));
    },
    read: (namespace, name) => client.request(`get pod ${name}`, () => client.core.readNamespacedPod({ name, namespace })),
    delete: async (namespace, name, { gracePeriodSeconds }) => {
      await client.request(`delete pod ${name}`, () =>
        client.core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds, propagationPolicy: 'Background' }),
      );
    },
    list: async (namespace, selector, options = {}) => {
      const list = await client.request(`list pods ${selector}`, () => client.core.listNamespacedPod({ namespace, labelSelector: selector }), {
        signal: options.signal,
      });
      return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
    },
    watch: (namespace, selector, from, onEvent, onDone) =>
      client.watchRequest(
        `watch pods ${selector}`,
        `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`,
        { labelSelector: selector, resourceVersion: from.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: from.timeoutSeconds },
        onEvent,
        onDone,
      ),
    log: (namespace, name, query, signal) => {
      const q: Record<string, string> = { container: query.container, timestamps: 'true', follow: query.follow ? 'true' : 'false' };
      if (query.sinceTime) q.sinceTime = query.sinceTime;
      return client.openStream(`/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}/log`, q, signal);
    },
  };
}

/**
 * The few pod calls the engine makes, behind one narrow interface: create, read, delete, list,
 * watch, and stream a log. `kubePodApi` implements it with the connected client (its rate limit,
 * its retries, its connection reuse); tests implement it in memory (test/helpers/fake-pods.ts),
 * so the engine can be tested in milliseconds, and an engine bug told from a cluster bug.
 *
 * Errors are what the API answers, shaped so `classifyError` (src/kube/errors.ts) reads them:
 * a fake throws `{ code: 409 }` where the real one throws client-node's ApiException with code 409.
 *
 * Later calls fit the same shape: annotations that prove a pod is ours are more fields of the pod.
 */
import type { Readable } from 'node:stream';
import { Observable, type ConfigurationOptions, type RequestContext, type ResponseContext, type V1Pod } from '@kubernetes/client-node';
import type { KubeClient } from './client.ts';
import { CONTAINER } from './pod.ts';

/**
 * A success's body read as bytes and dropped, so client-node neither decodes it to text nor
 * deserializes it into its model classes (a whole pod per create and per delete: most of what a
 * run allocated). Errors keep their body: `classifyError` reads the Status in it.
 */
const DROP_SUCCESS_BODY = {
  pre: (context: RequestContext): Observable<RequestContext> => new Observable(Promise.resolve(context)),
  post: (context: ResponseContext): Observable<ResponseContext> =>
    new Observable(
      (async () => {
        if (context.httpStatusCode < 200 || context.httpStatusCode > 299) return context;
        // Read to its end (the connection goes back to the pool), never decoded.
        const reader = context.body.stream()?.getReader();
        if (reader) while (!(await reader.read()).done);
        context.body = { text: async () => '{}', binary: async () => Buffer.from('{}'), stream: () => null };
        return context;
      })(),
    ),
};

/** Request options that drop a success's body (what the caller does not read). */
const dropSuccessBody: ConfigurationOptions = { middleware: [DROP_SUCCESS_BODY], middlewareMergeStrategy: 'append' };

/**
 * Request options that send `pod` as it was rendered, and drop the created pod the server sends
 * back (the watch tells the engine everything about it). client-node's serializer copies only the
 * fields its V1Pod model knows, so without this a field the model does not know (a typo, or one
 * newer than the client) would be dropped on our side, silently, and the API server's strict
 * field validation would never see it. The caller hands client-node an empty placeholder body,
 * so client-node does not copy the pod through its model only for this to replace it.
 */
function sendAsRendered(pod: V1Pod, keepAnswer = false): ConfigurationOptions {
  const middleware = {
    pre: (context: RequestContext): Observable<RequestContext> => {
      context.setBody(JSON.stringify(pod));
      return new Observable(Promise.resolve(context));
    },
    // A dry run's answer is read whole: it is the pod as admission left it (one per task, once).
    post: keepAnswer ? (context: ResponseContext) => new Observable(Promise.resolve(context)) : KEEP_UID_AND_RESTART_POLICIES.post,
  };
  return { middleware: [middleware], middlewareMergeStrategy: 'append' };
}

/** The most of a created pod's answer that is parsed (a pod is a few kilobytes; the API server caps objects near 1.5 MiB). */
const ANSWER_PARSED_BYTES = 256 * 1024;

/**
 * A created pod's answer read as bytes and dropped but for what the caller reads: the pod's uid,
 * which tells the pod it created from any other pod of that name the watch shows
 * (src/kube/pod-runner.ts), and its restart policies as admission left them (`slimPod`'s), so a
 * pod the kubelet would run more than once is refused as soon as the create answers, before its
 * container can have run twice. An answer too large to parse keeps only the uid (found in its first
 * kilobytes: the API server writes `metadata` first, `uid` after the name and namespace); the
 * watch's first event then shows the policies.
 */
const KEEP_UID_AND_RESTART_POLICIES = {
  post: (context: ResponseContext): Observable<ResponseContext> =>
    new Observable(
      (async () => {
        if (context.httpStatusCode < 200 || context.httpStatusCode > 299) return context;
        const reader = context.body.stream()?.getReader();
        let head = '';
        let whole = true;
        const decoder = new TextDecoder();
        if (reader) {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            if (head.length < ANSWER_PARSED_BYTES && value) head += decoder.decode(value as Uint8Array, { stream: true });
            else whole = false;
          }
        }
        let kept: V1Pod = {};
        try {
          if (!whole) throw new Error('too large');
          const pod = JSON.parse(head) as V1Pod;
          const slim = slimPod(pod);
          kept = { metadata: { uid: pod.metadata?.uid }, ...(slim.spec ? { spec: { containers: slim.spec.containers, restartPolicy: slim.spec.restartPolicy } } : {}) };
        } catch {
          const uid = /"uid":"([^"]+)"/.exec(head)?.[1];
          if (uid !== undefined) kept = { metadata: { uid } };
        }
        const text = JSON.stringify(kept);
        context.body = { text: async () => text, binary: async () => Buffer.from(text), stream: () => null };
        return context;
      })(),
    ),
};

/** What client-node serializes in place of the pod `sendAsRendered` sends (it must not be null). */
const PLACEHOLDER: V1Pod = {};

/**
 * The fields of a listed or watched pod that anything in this project reads: the metadata
 * (without `managedFields`, often the largest part of a pod), the node it runs on, its status.
 * The container specs, volumes and the rest are dropped as each pod arrives, so the run holds
 * (and the watch's cache keeps) a few hundred bytes per pod rather than the whole object.
 */
export function slimPod(pod: V1Pod): V1Pod {
  const { managedFields: _managedFields, ...metadata } = pod.metadata ?? {};
  const slim: V1Pod = { metadata };
  const spec = pod.spec;
  if (spec !== undefined) {
    slim.spec = { containers: [] };
    if (spec.nodeName !== undefined) slim.spec.nodeName = spec.nodeName;
    // Whether the kubelet may run the task's container more than once (src/kube/classify.ts
    // `restartPolicyChange`): a webhook may have changed what we sent.
    if (spec.restartPolicy !== undefined) slim.spec.restartPolicy = spec.restartPolicy;
    const task = spec.containers?.find((c) => c.name === CONTAINER);
    if (task !== undefined && (task.restartPolicy !== undefined || task.restartPolicyRules !== undefined)) {
      slim.spec.containers.push({ name: task.name, restartPolicy: task.restartPolicy, restartPolicyRules: task.restartPolicyRules });
    }
  }
  if (pod.status !== undefined) slim.status = pod.status;
  return slim;
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
  /**
   * Creates the pod; `dryRun` only asks whether the cluster would accept it. Not retried after a
   * network error unless safe (see the engine). Of what it resolves to only the created pod's
   * `metadata.uid` and restart policies are read: the watch tells what became of the pod (the real
   * one drops the rest of the created pod the server sends back). A dry run resolves to the pod as admission left it
   * (its restart policy is checked: src/kube/classify.ts `restartPolicyChange`).
   */
  create(namespace: string, pod: V1Pod, options?: { dryRun?: boolean }): Promise<unknown>;
  read(namespace: string, name: string): Promise<V1Pod>;
  /** Deletes the pod with the grace period given (in the background: its containers stop after). */
  delete(namespace: string, name: string, options: { gracePeriodSeconds: number }): Promise<void>;
  /**
   * Deletes every pod matching the label `selector` in one request (deletecollection), with the
   * grace period given. Optional: without it, pods are deleted one by one (src/kube/reaper.ts).
   */
  deleteCollection?(namespace: string, selector: string, options: { gracePeriodSeconds: number }): Promise<void>;
  /** Lists the pods matching `selector`, each as `slimPod` keeps it. */
  list(namespace: string, selector: string, options?: { signal?: AbortSignal }): Promise<PodList>;
  /**
   * Opens a watch of the pods matching `selector` from `from.resourceVersion` (with bookmarks).
   * `onEvent` gets each event's type (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR) and object (a
   * pod as `slimPod` keeps it);
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
      const asRendered = sendAsRendered(pod, options.dryRun === true);
      if (options.dryRun) {
        return client.request(`create pod ${name} (dry run)`, () => client.core.createNamespacedPod({ namespace, body: PLACEHOLDER, dryRun: 'All', fieldValidation }, asRendered));
      }
      // Retrying a create after a network error is safe for the engine: if the first one reached
      // the server, the retry answers 409 and the engine adopts the pod (after checking its labels).
      return client.request(`create pod ${name}`, () => client.core.createNamespacedPod({ namespace, body: PLACEHOLDER, fieldValidation }, asRendered));
    },
    read: (namespace, name) => client.request(`get pod ${name}`, () => client.core.readNamespacedPod({ name, namespace })),
    delete: async (namespace, name, { gracePeriodSeconds }) => {
      await client.request(`delete pod ${name}`, () =>
        client.core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds, propagationPolicy: 'Background' }, dropSuccessBody),
      );
    },
    deleteCollection: async (namespace, selector, { gracePeriodSeconds }) => {
      // The answer lists every pod deleted: dropped unread, the watch says the same.
      await client.request(`delete pods ${selector}`, () =>
        client.core.deleteCollectionNamespacedPod({ namespace, labelSelector: selector, gracePeriodSeconds, propagationPolicy: 'Background' }, dropSuccessBody),
      );
    },
    list: async (namespace, selector, options = {}) => {
      const list = await client.request(`list pods ${selector}`, () => client.core.listNamespacedPod({ namespace, labelSelector: selector }), {
        signal: options.signal,
      });
      return { items: list.items.map(slimPod), resourceVersion: list.metadata?.resourceVersion ?? '' };
    },
    watch: (namespace, selector, from, onEvent, onDone) =>
      client.watchRequest(
        `watch pods ${selector}`,
        `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`,
        { labelSelector: selector, resourceVersion: from.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: from.timeoutSeconds },
        // A Status (ERROR) or a BOOKMARK passes as it came; a pod is slimmed as it arrives.
        (type, object) => onEvent(type, type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED' ? slimPod(object as V1Pod) : object),
        onDone,
      ),
    log: (namespace, name, query, signal) => {
      const q: Record<string, string> = { container: query.container, timestamps: 'true', follow: query.follow ? 'true' : 'false' };
      if (query.sinceTime) q.sinceTime = query.sinceTime;
      return client.openStream(`/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}/log`, q, signal);
    },
  };
}

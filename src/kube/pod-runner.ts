/**
 * The pod runner: one attempt's pod from create to delete, through the narrow PodApi.
 *
 * - create with the attempt's deterministic name, carrying a proof that this run made it for this
 *   attempt and this rendered spec (src/kube/pod-proof.ts); a 409 means the pod exists already
 *   (our own create that reached the server before a retry, or a restart of this run attempt):
 *   it is adopted only when its proof holds and it is the pod we rendered. Any other pod of that
 *   name (planted by whoever can create pods in the namespace) fails the attempt as a
 *   configuration error: nothing of it is used, and it is never deleted by us;
 * - the log, followed once the container started, read to its end once it terminated;
 * - delete, at most once, 404 counting as done; a settled pod's delete goes with others in one
 *   request (src/kube/reaper.ts).
 *
 * The engine (src/engine/engine.ts) decides when; this module knows how, and what each answer of
 * the API means for the attempt. The run's one watch is opened here too (`watch`), so every call
 * the engine makes to the cluster goes through the same PodApi.
 */
import type { AttemptOutcome } from '../dag/types.ts';
import { admissionRefusal, classifyError, describeError, isAdmissionRefusal } from './errors.ts';
import { LogFollower } from './logs.ts';
import type { PodApi } from './pod-api.ts';
import type { PodReaper } from './reaper.ts';
import { CONTAINER } from './pod.ts';
import { differsFromRendered, podHash, PodProof, sameProof } from './pod-proof.ts';
import { PodWatcher, type PodEvent, type PodWatcherOptions } from './watch.ts';
import type { V1Pod } from '@kubernetes/client-node';

/** Options of a PodRunner: where the pods go, and where their logs go. */
export interface PodRunnerOptions {
  api: PodApi;
  namespace: string;
  /** Log lines kept per attempt for the summary; default 50. */
  logTailLines?: number;
  /** A promise while the log lines' reader is backed up: the log streams pause until it settles. */
  logBacklog?: () => Promise<void> | undefined;
  /** Debug lines (resumed log streams, failed deletes). */
  debug?: (line: string) => void;
  /** The run's keys: signs the pods created, verifies the pods found. Default: a key of this runner only. */
  proof?: PodProof;
}

/** One attempt's identity: its task, its number, and its pod's name. */
export interface AttemptId {
  task: string;
  attempt: number;
  pod: string;
}

/** What creating an attempt's pod came to: created, adopted (409, our labels), or a failure of the attempt. */
export type CreateResult = { ok: true; adopted: boolean } | { ok: false; failure: AttemptOutcome };

/** Runs the pods of one run's attempts in one namespace. */
export class PodRunner {
  readonly #o: PodRunnerOptions & { proof: PodProof };

  constructor(options: PodRunnerOptions) {
    this.#o = { ...options, proof: options.proof ?? new PodProof() };
  }

  /** The API server's URL, for messages. */
  get server(): string {
    return this.#o.api.server;
  }

  /** The run's one watch over its pods (`selector`); call `start()` on it. */
  watch(selector: string, onEvent: (e: PodEvent) => void, options: PodWatcherOptions = {}): PodWatcher {
    return new PodWatcher(this.#o.api, this.#o.namespace, selector, onEvent, options);
  }

  /** The pod of one attempt (nothing is sent until `create`). `onLine` gets its log's lines. */
  attempt(id: AttemptId, onLine: (text: string, time: string | null) => void): AttemptPod {
    return new AttemptPod(this.#o, id, onLine);
  }
}

/** One attempt's pod: its create, its log and its delete. */
export class AttemptPod {
  readonly task: string;
  readonly attempt: number;
  /** The pod's name. */
  readonly name: string;
  readonly #o: PodRunnerOptions & { proof: PodProof };
  readonly #onLine: (text: string, time: string | null) => void;
  #follower: LogFollower | null = null;
  #deletedByUs = false;
  #gone = false;
  #tailReleased = false;
  /** The hash of the pod as rendered (set by `create`): what a pod's proof must name. */
  #hash: string | null = null;
  /** The pod as sent (with its proof), for comparing with a pod found under its name. */
  #sent: V1Pod | null = null;
  /** The uid of the pod whose proof was checked (or that our create made): later events of that pod need no new check. */
  #verifiedUid: string | null = null;
  /** The watch has shown the pod of `#verifiedUid`: a pod of another uid under the name now is a replacement, no longer an older one. */
  #oursSeen = false;
  /** The pod was not known to be ours when adopted (its create's answer was lost): read it whole before trusting it. */
  #readWhole = false;
  /** The pod under our name failed its proof: it is not ours, and nothing is done to it. */
  #foreign = false;

  constructor(options: PodRunnerOptions & { proof: PodProof }, id: AttemptId, onLine: (text: string, time: string | null) => void) {
    this.#o = options;
    this.task = id.task;
    this.attempt = id.attempt;
    this.name = id.pod;
    this.#onLine = onLine;
  }

  /** We deleted the pod (so its DELETED event is ours, not someone else's). */
  get deletedByUs(): boolean {
    return this.#deletedByUs;
  }

  /** The uid of the pod this attempt's create made or adopted, once known and checked; null before. */
  get uid(): string | null {
    return this.#readWhole ? null : this.#verifiedUid;
  }

  /** The pod is gone from the API (DELETED seen, or never to be created). */
  get gone(): boolean {
    return this.#gone;
  }

  /** The pod under this attempt's name is someone else's (it failed its proof): never read, followed or deleted. */
  get foreign(): boolean {
    return this.#foreign;
  }

  /** Whether its log is being followed (the container started). */
  get following(): boolean {
    return this.#follower !== null;
  }

  /**
   * Creates the pod, with its proof. A 409 adopts the existing pod only if it proves to be this
   * attempt's (`#adopt`). A create whose answer never came (network, 5xx, 429 past the retries)
   * is settled by reading the pod: found, it is adopted on the same terms; absent, the create is
   * sent again (at most three rounds, then an infrastructure failure); unreadable, it counts as
   * created, and the pod is read whole and checked when the watch first shows it (`vet`). Any
   * other refusal is a configuration failure: the cluster refused the pod itself (but a
   * ResourceQuota that other pods use up now is an infrastructure failure: it may admit it later).
   */
  async create(rendered: V1Pod): Promise<CreateResult> {
    const { api, namespace } = this.#o;
    const manifest = this.#o.proof.prove(rendered);
    this.#sent = manifest;
    this.#hash = podHash(manifest);
    for (let round = 1; ; round++) {
      try {
        const made = (await api.create(namespace, manifest)) as V1Pod | undefined;
        // Its uid tells it from a pod of that name the watch may still show from before it
        // (an earlier process's, deleted just before this create): that one's end is not its end.
        this.#verifiedUid = made?.metadata?.uid ?? null;
        return { ok: true, adopted: false };
      } catch (err) {
        const e = classifyError(err);
        if (e.kind === 'conflict') break;
        const ambiguous = e.kind === 'network' || e.kind === 'timeout' || e.kind === 'server' || e.kind === 'throttled';
        if (!ambiguous) {
          // Refused: the pod does not exist. A ResourceQuota used up by other pods now admits the
          // same pod later: an infrastructure failure, retried on that budget after the retry
          // delay. Any other refusal comes back until the spec or the cluster changes.
          const later = e.kind === 'forbidden' && isAdmissionRefusal(e.message) && admissionRefusal(e.message).mayPassLater;
          return { ok: false, failure: failure(later ? 'infrastructure' : 'configuration', later ? 'ExceededQuota' : (e.reason ?? e.kind), describeError(err, `create pod ${this.name} in namespace ${namespace}`, api.server)) };
        }
        // The create (or one of its retries) may have reached the server though no answer came
        // back: it counts as done until a read proves otherwise. A pod that exists is this
        // attempt's (checked below) and is watched, read and deleted as any other; only a read
        // that finds none lets the create be sent again, so the task never runs twice.
        const settled = await this.#settle();
        if (settled === 'exists') break;
        if (settled === 'unknown') {
          this.#o.debug?.(`create of pod ${this.name} got no answer and the pod could not be read since; counting it as created: the watch tells whether it exists`);
          this.#readWhole = true;
          return { ok: true, adopted: true };
        }
        if (round >= 3) {
          return { ok: false, failure: failure('infrastructure', e.reason ?? e.kind, describeError(err, `create pod ${this.name} in namespace ${namespace}`, api.server)) };
        }
      }
    }
    return this.#adopt();
  }

  /**
   * The pod under our name exists: adopted only if it is ours, i.e. its proof was signed by a
   * process of this run for this very rendering of the attempt's pod, and the pod is still the pod
   * rendered (nothing that changes what runs was added or changed since).
   */
  async #adopt(): Promise<CreateResult> {
    const { api, namespace } = this.#o;
    let existing: V1Pod;
    try {
      existing = await api.read(namespace, this.name);
    } catch (err) {
      // Deleted between the 409 and the read: its DELETED event tells the rest. Unreadable (the
      // read's retries ran out): the pod exists, so giving up on it (a failure, then a retry)
      // could run the task twice; it counts as created, as a create whose answer was lost. Either
      // way `vet` reads it whole and checks it before anything of it is used.
      if (classifyError(err).kind !== 'not-found') this.#o.debug?.(`${describeError(err, `read pod ${this.name}`, api.server)}; counting it as created: it is checked when the watch shows it`);
      this.#readWhole = true;
      return { ok: true, adopted: true };
    }
    const problem = this.#judge(existing, true);
    if (problem !== null) {
      this.#foreign = true;
      return { ok: false, failure: foreignPod(existing, namespace, this.task, this.attempt, problem) };
    }
    this.#verifiedUid = existing.metadata?.uid ?? null;
    return { ok: true, adopted: true };
  }

  /**
   * Before anything of a pod the watch shows under this attempt's name is used: null if it is ours
   * (checked once per pod uid), else the attempt's configuration failure (the pod is then `foreign`:
   * not followed, not deleted). A pod adopted without being seen whole is read whole first.
   */
  async vet(pod: V1Pod): Promise<AttemptOutcome | null | 'older'> {
    const uid = pod.metadata?.uid;
    if (uid !== undefined && uid === this.#verifiedUid) {
      this.#oursSeen = true;
      return null;
    }
    if (this.#older(uid)) return 'older';
    if (uid !== undefined && this.#verifiedUid !== null && !this.#readWhole) return this.#replaced(pod);
    if (this.#readWhole) {
      let seen: V1Pod;
      try {
        seen = await this.#o.api.read(this.#o.namespace, this.name);
      } catch (err) {
        // Not readable now: judged from what the watch brought (its proof); the content check
        // waits for the next event.
        this.#o.debug?.(describeError(err, `read pod ${this.name} to check it is this run's`, this.#o.api.server));
        const problem = this.#judge(pod, false);
        return problem === null ? null : this.#refuse(pod, problem);
      }
      const whole = this.#judge(seen, true);
      if (whole !== null) return this.#refuse(seen, whole);
      this.#readWhole = false;
      this.#verifiedUid = seen.metadata?.uid ?? null;
      if (seen.metadata?.uid === uid) return null;
      // The event showed an older object of that name (since replaced): judged by its proof.
    }
    const problem = this.#judge(pod, false);
    if (problem !== null) return this.#refuse(pod, problem);
    this.#verifiedUid ??= uid ?? null;
    return null;
  }

  /**
   * Another pod (another uid) under the name of the attempt's pod, which we knew: ours was deleted
   * and someone created this one, even from our pod's own manifest (proof and all). This attempt's
   * pod is gone: an infrastructure failure, as any pod deleted by someone else. The new pod is not
   * this attempt's run: nothing of it (status, log, outputs) is used, and it is not ours to delete.
   */
  #replaced(pod: V1Pod): AttemptOutcome {
    this.#foreign = true;
    this.#follower?.stop();
    return failure(
      'infrastructure',
      'Replaced',
      `pod ${this.name} (uid ${this.#verifiedUid}) was deleted by someone else and another pod (uid ${pod.metadata?.uid}) was created under its name; ` +
        'nothing of the new pod was used, and it was left alone: find out who re-creates pods of pod-dag-action (kubectl replace --force, a controller)',
    );
  }

  async #refuse(pod: V1Pod, problem: string): Promise<AttemptOutcome> {
    this.#foreign = true;
    this.#follower?.stop();
    let whole = pod;
    if (pod.metadata?.managedFields === undefined) {
      // The watch drops managedFields: read them, to say who created the pod.
      whole = await this.#o.api.read(this.#o.namespace, this.name).catch(() => pod);
      if (whole.metadata?.uid !== pod.metadata?.uid) whole = pod;
    }
    return foreignPod(whole, this.#o.namespace, this.task, this.attempt, problem);
  }

  /** Why `pod` is not this attempt's pod as rendered, or null if it is. `whole`: the pod's spec is at hand. */
  #judge(pod: V1Pod, whole: boolean): string | null {
    // The proof this process sent (its own fresh pod): valid as sent, no signature to check.
    const proven = this.#sent !== null && sameProof(pod, this.#sent) ? { ok: true as const, proof: { hash: this.#hash! } } : this.#o.proof.verify(pod);
    if (!proven.ok) return proven.problem;
    if (proven.proof.hash !== this.#hash) {
      return `carries a proof for another rendering of this attempt's pod (hash ${proven.proof.hash.slice(0, 12)}…, this run renders ${this.#hash?.slice(0, 12)}…): the spec, the params or an upstream output changed`;
    }
    if (whole && this.#sent !== null) {
      // A restart policy admission changed is ours to refuse as such (src/kube/classify.ts
      // `restartPolicyChange`, when the pod is first looked at), not a sign of someone else's pod.
      const d = differsFromRendered(withRestartPolicyOf(pod, this.#sent), this.#sent);
      if (d !== null) return `is not the pod its proof was made for: ${d}`;
    }
    return null;
  }

  /** Whether the pod exists after a create whose answer was lost: a read decides, if it can. */
  async #settle(): Promise<'exists' | 'absent' | 'unknown'> {
    try {
      await this.#o.api.read(this.#o.namespace, this.name);
      return 'exists';
    } catch (err) {
      return classifyError(err).kind === 'not-found' ? 'absent' : 'unknown';
    }
  }

  /**
   * A pod of this name from before this attempt's own (known by its uid, not yet shown by the
   * watch, whose events come in order): an earlier process's pod deleted just before our create.
   * Nothing of it is this attempt's, and it ends nothing.
   */
  #older(uid: string | undefined): boolean {
    return uid !== undefined && this.#verifiedUid !== null && !this.#oursSeen && !this.#readWhole && uid !== this.#verifiedUid;
  }

  /**
   * The watch saw the pod of this name deleted (`uid`), or it will never exist (no uid): its log
   * can no longer be read. False, and nothing changes, when the pod deleted is another than this
   * attempt's (one from before it, or one created after it under its name).
   */
  markGone(uid?: string): boolean {
    if (uid !== undefined && this.#verifiedUid !== null && !this.#readWhole && uid !== this.#verifiedUid) return false;
    this.#gone = true;
    this.#follower?.gone();
    return true;
  }

  /** Starts following the log (once the container started). Idempotent. */
  followLog(): void {
    if (this.#follower || this.#foreign) return;
    this.#follower = new LogFollower({
      api: this.#o.api,
      namespace: this.#o.namespace,
      pod: this.name,
      container: CONTAINER,
      tailLines: this.#o.logTailLines,
      onLine: this.#onLine,
      onResume: (why) => this.#o.debug?.(why),
      backlog: this.#o.logBacklog,
    });
    if (this.#tailReleased) this.#follower.releaseTail();
    this.#follower.start();
  }

  /** The container terminated: the log is read to its end, then `logDone` resolves. */
  containerTerminated(): void {
    this.#follower?.terminated();
  }

  /** Stops reading the log (the pod is being deleted while it runs). */
  stopLog(): void {
    this.#follower?.stop();
  }

  /** Resolves when the log was read to its end, or cannot be read any more; at once if it was never followed. */
  get logDone(): Promise<void> {
    return this.#follower?.done ?? Promise.resolve();
  }

  /** The log's last lines (for the summary); null if it was never followed or the tail was released. */
  tail(): string[] | null {
    return this.#tailReleased ? null : (this.#follower?.tail() ?? null);
  }

  /** The tail will not be asked for (the attempt succeeded): keep no lines of it from now on. */
  releaseTail(): void {
    this.#tailReleased = true;
    this.#follower?.releaseTail();
  }

  /**
   * Deletes the pod once (404: done already). Never throws: a failure is a debug line (the post
   * step sweeps). With `batch`, the pod goes with the batch's next request: only for a settled
   * pod (its container ended, its log read to the end, its result recorded or, with `durable`,
   * recorded before the batch is sent), deleted at once.
   * A pod that is not ours (`foreign`) is someone else's to delete: never deleted.
   */
  async delete(gracePeriodSeconds: number, batch?: PodReaper, durable?: Promise<boolean>): Promise<void> {
    if (this.#deletedByUs || this.#foreign) return;
    this.#deletedByUs = true;
    if (batch && gracePeriodSeconds === 0) return batch.delete({ name: this.name, task: this.task, attempt: this.attempt, ...(durable ? { durable } : {}) });
    const { api, namespace } = this.#o;
    try {
      await api.delete(namespace, this.name, { gracePeriodSeconds });
    } catch (err) {
      if (classifyError(err).kind === 'not-found') return;
      this.#o.debug?.(describeError(err, `delete pod ${this.name}`, api.server));
    }
  }
}

/** `pod` with the restart policy of `sent` (the pod's and its task container's), for comparing the rest. */
function withRestartPolicyOf(pod: V1Pod, sent: V1Pod): V1Pod {
  if (pod.spec === undefined) return pod;
  const ours = sent.spec?.containers.find((c) => c.name === CONTAINER);
  const containers = pod.spec.containers.map((c) =>
    c.name === CONTAINER ? { ...c, restartPolicy: ours?.restartPolicy, restartPolicyRules: ours?.restartPolicyRules } : c,
  );
  return { ...pod, spec: { ...pod.spec, restartPolicy: sent.spec?.restartPolicy, containers } };
}

/** An attempt's failure with no exit code (the pod could not be created, or was never seen). */
export function failure(cls: AttemptOutcome['class'], reason: string | null, message: string): AttemptOutcome {
  return { class: cls, reason, message, exitCode: null, outputs: {}, node: null };
}

/**
 * The configuration failure of an attempt whose pod name is taken by a pod that is not this run's:
 * which pod, why, who created it and when (what the API says), and what to do.
 */
export function foreignPod(pod: V1Pod, namespace: string, task: string, attempt: number, problem: string): AttemptOutcome {
  const name = pod.metadata?.name ?? '?';
  const managers = [...new Set((pod.metadata?.managedFields ?? []).map((f) => f.manager).filter((m): m is string => typeof m === 'string'))];
  const created = pod.metadata?.creationTimestamp;
  const when = created === undefined ? 'at an unknown time' : `at ${created instanceof Date ? created.toISOString() : String(created)}`;
  const who = managers.length > 0 ? `by ${managers.map((m) => JSON.stringify(m)).join(', ')} (its field managers)` : 'by an unknown client (the API server lists no field manager)';
  return failure(
    'configuration',
    'NotOurPod',
    `pod ${name} in namespace ${namespace} is not this run's pod for attempt ${attempt} of task "${task}": it ${problem}. ` +
      `It was created ${when} ${who}, with labels ${JSON.stringify(pod.metadata?.labels ?? {})}. ` +
      "Nothing of its status, logs or outputs was used, and it was not deleted (it is not this run's). " +
      `Delete it (kubectl delete pod -n ${namespace} ${name}) and find out who creates pods with pod-dag-action's labels in this namespace.`,
  );
}

/**
 * The proof that a pod is this run's own: what lets the pod runner adopt a pod that exists
 * already (a 409 on create, a create whose answer was lost, a restart after a crash, a pod of an
 * earlier run attempt) without taking a pod someone else planted under our name and labels.
 *
 * Every pod we create carries two annotations:
 * - `pod-dag.io/proof-hash`: the SHA-256 of the canonical JSON of the pod as we send it, without
 *   these two annotations: which rendered spec the proof is for;
 * - `pod-dag.io/proof`: an Ed25519 signature over that hash and the pod's namespace, name and
 *   run/task/attempt labels, made with a private key that exists only in the memory of the
 *   process that created the pod.
 *
 * Each process generates its own key pair and records the public key in the run's state
 * (ConfigMap) BEFORE it creates any pod; a restart after a kill and the next run attempt trust
 * every public key recorded for the run. A public key lets one verify, never sign: whoever can
 * read the state (or mount it in a pod) still cannot forge a proof. Forging takes writing the
 * state (adding a key of one's own), which needs `update` on ConfigMaps in the namespace.
 *
 * Signature alone does not settle a pod whose proof was copied from one of ours that is gone
 * (read, deleted, re-created with another command under the same name): where the whole pod is at
 * hand (a read after a 409), `differsFromRendered` also compares it with what we rendered.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import type { V1Pod } from '@kubernetes/client-node';
import { canonicalJson } from '../common/canonical-json.ts';
import { ANNOTATIONS, LABELS } from './pod.ts';

/** Why a pod's proof does not hold, in words for the user (after "the pod …"). */
export type ProofProblem = string;

/** A pod's verified proof: the hash of the rendered pod it was made for. */
export interface VerifiedProof {
  hash: string;
}

const DOMAIN = 'pod-dag.io/proof v1';

/** The labels the signature covers (read from the pod itself, so they are verified with it). */
const SIGNED_LABELS = [LABELS.dag, LABELS.runId, LABELS.runScope, LABELS.runAttempt, LABELS.task, LABELS.taskAttempt] as const;

/**
 * The keys of a run: this process's key pair (to sign the pods it creates) and the public keys of
 * every process of the run the state records (to verify pods it finds).
 */
export class PodProof {
  /** This process's public key (base64url of the raw Ed25519 key): record it before creating pods. */
  readonly publicKey: string;
  readonly #privateKey: KeyObject;
  readonly #trusted = new Map<string, KeyObject>();

  /**
   * A new key pair (or the one whose private key `privateKeyPem` holds: the CLI keeps it in a
   * file, to re-attach to its own run), trusting only itself until `trust` is given the run's keys.
   */
  constructor(privateKeyPem?: string) {
    const { publicKey, privateKey } = privateKeyPem === undefined ? generateKeyPairSync('ed25519') : fromPem(privateKeyPem);
    this.#privateKey = privateKey;
    this.publicKey = publicKey.export({ format: 'jwk' }).x!;
    this.#trusted.set(this.publicKey, publicKey);
  }

  /** Trusts pods signed by these public keys (of earlier processes of the run); malformed ones are skipped. */
  trust(keys: Iterable<string>): void {
    for (const x of keys) {
      if (this.#trusted.has(x) || !/^[A-Za-z0-9_-]{43}$/.test(x)) continue;
      try {
        this.#trusted.set(x, createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' }));
      } catch {
        // Not a key: nothing it signed can verify.
      }
    }
  }

  /** The private key, PEM (PKCS#8): for a file only its owner reads, never for a log or the cluster. */
  privateKeyPem(): string {
    return this.#privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  }

  /** How many keys are trusted (this process's and the run's). */
  get trustedCount(): number {
    return this.#trusted.size;
  }

  /** The public keys trusted (this process's first). */
  get trustedKeys(): string[] {
    return [...this.#trusted.keys()];
  }

  /** The pod with its proof annotations (a copy: `pod` is not changed). */
  prove(pod: V1Pod): V1Pod {
    const bare = withoutProof(pod);
    const hash = podHash(bare);
    const signature = sign(null, message(bare, hash), this.#privateKey).toString('base64url');
    return { ...bare, metadata: { ...bare.metadata, annotations: { ...bare.metadata?.annotations, [ANNOTATIONS.proofHash]: hash, [ANNOTATIONS.proof]: signature } } };
  }

  /**
   * Whether `pod` (as the API returns it: whole, or slimmed by the watch) carries a proof signed
   * by a key of this run over its own name, namespace, run/task/attempt labels and the hash it
   * names. What the hash must be is the caller's to check.
   */
  verify(pod: V1Pod): { ok: true; proof: VerifiedProof } | { ok: false; problem: ProofProblem } {
    const a = pod.metadata?.annotations ?? {};
    const hash = a[ANNOTATIONS.proofHash];
    const signature = a[ANNOTATIONS.proof];
    if (hash === undefined || signature === undefined) {
      return { ok: false, problem: `carries no proof that pod-dag-action created it (annotations ${ANNOTATIONS.proofHash} and ${ANNOTATIONS.proof} missing)` };
    }
    if (!/^[0-9a-f]{64}$/.test(hash) || !/^[A-Za-z0-9_-]{86}$/.test(signature)) {
      return { ok: false, problem: `carries a malformed proof (annotations ${ANNOTATIONS.proofHash} / ${ANNOTATIONS.proof})` };
    }
    const data = message(pod, hash);
    const sig = Buffer.from(signature, 'base64url');
    for (const key of this.#trusted.values()) {
      if (verify(null, data, key, sig)) return { ok: true, proof: { hash } };
    }
    return { ok: false, problem: `carries a proof that no process of this run signed (annotation ${ANNOTATIONS.proof}): it was made by someone else, or for other labels or another name` };
  }
}

/**
 * Whether `pod` carries exactly the proof `proved` carries, over the same namespace, name and
 * signed labels: then it verifies exactly as `proved` does (Ed25519 is deterministic), so the
 * pod runner skips verifying its own fresh pods on every run (a string compare, not a signature check).
 */
export function sameProof(pod: V1Pod, proved: V1Pod): boolean {
  const a = pod.metadata;
  const b = proved.metadata;
  if (a === undefined || b === undefined || a.name !== b.name || a.namespace !== b.namespace) return false;
  for (const k of [ANNOTATIONS.proof, ANNOTATIONS.proofHash]) {
    const v = a.annotations?.[k];
    if (v === undefined || v !== b.annotations?.[k]) return false;
  }
  return SIGNED_LABELS.every((l) => a.labels?.[l] === b.labels?.[l]);
}

/** An Ed25519 key pair from its private key (PEM); throws if it is not one. */
function fromPem(pem: string): { publicKey: KeyObject; privateKey: KeyObject } {
  const privateKey = createPrivateKey(pem);
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`expected an Ed25519 private key, found ${privateKey.asymmetricKeyType ?? 'another kind of key'}`);
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

/** The pod without the proof annotations (a copy). */
function withoutProof(pod: V1Pod): V1Pod {
  const { [ANNOTATIONS.proofHash]: _h, [ANNOTATIONS.proof]: _s, ...annotations } = pod.metadata?.annotations ?? {};
  return { ...pod, metadata: { ...pod.metadata, annotations } };
}

/**
 * The SHA-256 (hex) of the canonical JSON of `pod` without its proof annotations, nor the task's
 * fingerprint: that one is derived from the spec and params the rest of the pod was rendered
 * from, and a pod rendered without it (by an earlier version of the action, or a test) is the same pod.
 */
export function podHash(pod: V1Pod): string {
  const { [ANNOTATIONS.fingerprint]: _f, ...annotations } = pod.metadata?.annotations ?? {};
  return createHash('sha256').update(canonicalJson(withoutProof({ ...pod, metadata: { ...pod.metadata, annotations } }))).digest('hex');
}

/** What is signed: the domain, the pod's namespace, name and signed labels, and the hash. */
function message(pod: V1Pod, hash: string): Buffer {
  const labels = pod.metadata?.labels ?? {};
  return Buffer.from(JSON.stringify([DOMAIN, pod.metadata?.namespace ?? '', pod.metadata?.name ?? '', ...SIGNED_LABELS.map((l) => labels[l] ?? null), hash]));
}


/**
 * Fields the API server (its defaulting and default admission plugins: ServiceAccount,
 * DefaultTolerationSeconds, Priority) or the scheduler add to a pod spec we did not set. Any
 * other field that we did not set and the pod has makes it another pod than the one we rendered.
 */
const SPEC_ADDED = new Set([
  'dnsPolicy',
  'enableServiceLinks',
  'nodeName',
  'preemptionPolicy',
  'priority',
  'priorityClassName',
  'schedulerName',
  'securityContext',
  'serviceAccount',
  'serviceAccountName',
  'terminationGracePeriodSeconds',
  'tolerations',
  'volumes',
]);
/** The same for a container. */
const CONTAINER_ADDED = new Set(['imagePullPolicy', 'resources', 'terminationMessagePath', 'terminationMessagePolicy', 'volumeMounts']);
/** The one mount the ServiceAccount admission plugin adds to every container. */
const TOKEN_MOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';
/** Arrays the server may add to after what we sent (tolerations, volumes). */
const APPENDABLE = new Set(['spec.tolerations', 'spec.volumes']);

/**
 * Where the pod the API returned is not the pod we rendered (a field path and both values, for a
 * message), or null when it is: every field we set has our value, and nothing that changes what
 * the container runs was added (another container, an init container, a mount, a command …).
 * Quantities compare by value ("1000m" is "1"); metadata is not compared (the proof covers names
 * and labels, and annotations and labels may be added by others without changing what runs).
 */
export function differsFromRendered(actual: V1Pod, rendered: V1Pod): string | null {
  return diff(plain(actual.spec), plain(rendered.spec), 'spec');
}

function plain(v: unknown): unknown {
  return v === undefined ? undefined : JSON.parse(JSON.stringify(v));
}

function diff(actual: unknown, ours: unknown, path: string): string | null {
  const show = (v: unknown): string => (v === undefined ? 'nothing' : JSON.stringify(v).slice(0, 120));
  const mismatch = (): string => `${path} is ${show(actual)}, not ${show(ours)}`;
  if (ours === undefined || ours === null) {
    if (actual === undefined || actual === null) return null;
    return mismatch();
  }
  if (/\.resources\.(requests|limits)\.[^.]+$/.test(path) && typeof actual === 'string' && typeof ours === 'string') {
    const a = quantity(actual);
    const o = quantity(ours);
    return a !== null && o !== null && Math.abs(a - o) <= 1e-9 * Math.max(Math.abs(a), Math.abs(o)) ? null : mismatch();
  }
  if (typeof ours !== 'object') return actual === ours ? null : mismatch();
  if (Array.isArray(ours)) {
    if (!Array.isArray(actual)) return mismatch();
    const appendable = APPENDABLE.has(path);
    const mounts = /\.volumeMounts$/.test(path);
    if (actual.length < ours.length || (!appendable && !mounts && actual.length !== ours.length)) return `${path} has ${actual.length} entries, not ${ours.length}`;
    for (let i = 0; i < ours.length; i++) {
      const d = diff(actual[i], ours[i], `${path}[${i}]`);
      if (d !== null) return d;
    }
    if (mounts) return extraMounts(actual.slice(ours.length), path);
    return null;
  }
  if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return mismatch();
  const a = actual as Record<string, unknown>;
  const o = ours as Record<string, unknown>;
  for (const [k, v] of Object.entries(o)) {
    const d = diff(a[k], v, `${path}.${k}`);
    if (d !== null) return d;
  }
  const added = path === 'spec' ? SPEC_ADDED : /^spec\.containers\[\d+\]$/.test(path) ? CONTAINER_ADDED : null;
  if (added === null) return null; // inside a field we set, the server's defaults (a probe's, a port's) are not ours to judge
  for (const [k, v] of Object.entries(a)) {
    if (o[k] !== undefined || v === undefined || v === null) continue;
    if (!added.has(k)) return `${path}.${k} is ${show(v)}, which the pod as rendered does not set`;
    if (k === 'volumeMounts') {
      const d = extraMounts(v as unknown[], `${path}.volumeMounts`);
      if (d !== null) return d;
    }
  }
  return null;
}

/** Mounts beyond ours: only the service account token's. */
function extraMounts(extra: unknown[], path: string): string | null {
  for (const m of extra) {
    const mountPath = (m as { mountPath?: unknown } | null)?.mountPath;
    if (mountPath !== TOKEN_MOUNT) return `${path} mounts ${JSON.stringify(mountPath)}, which the pod as rendered does not`;
  }
  return null;
}

const SUFFIX: Record<string, number> = { '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };

/** A Kubernetes quantity's value ("500m" → 0.5, "1Gi" → 2^30), or null if it is not one. */
function quantity(q: string): number | null {
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(q.trim());
  if (m === null) return null;
  return Number(m[1]) * SUFFIX[m[2] ?? '']!;
}

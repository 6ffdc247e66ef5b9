/**
 * The command line of `npm run sandbox` (scripts/sandbox.mjs), parsed into the sandbox's options
 * and what to create in it once it runs. Pure: argv in, options or an error message out, so the
 * README's command lines are checked by tests as written.
 *
 *   --kubeconfig-out FILE               where to write the admin kubeconfig (required)
 *   --port N                            port to listen on (loopback); default a free one
 *   --namespace NS                      a namespace to create (repeatable)
 *   --node NAME[:KEY=VALUE,…]           a node and its labels (repeatable; default one node)
 *   --taint NODE:KEY[=VALUE]:EFFECT     a taint, as `kubectl taint nodes` writes it (repeatable)
 *   --allocatable NODE:cpu=N,memory=Q   a node's allocatable resources (repeatable)
 *   --secret NS/NAME:KEY=VALUE,…        a Secret to create (repeatable)
 *   --configmap NS/NAME:KEY=VALUE,…     a ConfigMap to create (repeatable)
 *   --image IMAGE=DIR                   what an image "contains" when its containers run as local
 *                                       processes: DIR/bin first on PATH, DIR/app the working
 *                                       directory when it exists (repeatable)
 *   --scale                             scripted containers only
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { SandboxOptions } from './index.ts';
import type { NodeSpec } from './scheduler.ts';

/** What `npm run sandbox` was asked for. */
export interface SandboxCommand {
  kubeconfigOut: string;
  options: SandboxOptions & { nodes?: NodeSpec[]; namespaces: string[] };
  secrets: { namespace: string; name: string; data: Record<string, string> }[];
  configMaps: { namespace: string; name: string; data: Record<string, string> }[];
  help: boolean;
}

/** The usage line, printed with every error. */
export const SANDBOX_USAGE =
  'usage: npm run sandbox -- --kubeconfig-out FILE [--port N] [--namespace NS]... [--node NAME[:KEY=VALUE,...]]... ' +
  '[--taint NODE:KEY[=VALUE]:EFFECT]... [--allocatable NODE:cpu=N,memory=Q]... [--secret NS/NAME:KEY=VALUE,...]... ' +
  '[--configmap NS/NAME:KEY=VALUE,...]... [--image IMAGE=DIR]... [--scale]';

/** A bad command line: the message says which flag, what was expected and what was found. */
export class SandboxArgsError extends Error {}

const EFFECTS = new Set(['NoSchedule', 'PreferNoSchedule', 'NoExecute']);
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** `a=1,b=2` → {a: '1', b: '2'}; values may hold `=`, not `,`. */
function pairs(flag: string, text: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (text === '') return out;
  for (const item of text.split(',')) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new SandboxArgsError(`${flag}: expected KEY=VALUE pairs separated by commas, found "${item}"`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/** `NS/NAME:KEY=VALUE,…` of --secret and --configmap. */
function object(flag: string, text: string): { namespace: string; name: string; data: Record<string, string> } {
  const colon = text.indexOf(':');
  const ref = colon < 0 ? text : text.slice(0, colon);
  const [namespace, name, extra] = ref.split('/');
  if (namespace === undefined || name === undefined || extra !== undefined || !DNS_LABEL.test(namespace) || name === '') {
    throw new SandboxArgsError(`${flag}: expected NAMESPACE/NAME:KEY=VALUE,..., found "${text}"`);
  }
  return { namespace, name, data: pairs(flag, colon < 0 ? '' : text.slice(colon + 1)) };
}

/** Parses the command line of `npm run sandbox`; `cwd` resolves --image directories. */
export function parseSandboxArgs(argv: string[], cwd: string, hostPath: string[]): SandboxCommand {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        'kubeconfig-out': { type: 'string' },
        port: { type: 'string' },
        namespace: { type: 'string', multiple: true },
        node: { type: 'string', multiple: true },
        taint: { type: 'string', multiple: true },
        allocatable: { type: 'string', multiple: true },
        secret: { type: 'string', multiple: true },
        configmap: { type: 'string', multiple: true },
        image: { type: 'string', multiple: true },
        scale: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new SandboxArgsError((err as Error).message);
  }
  const help = values.help ?? false;
  const kubeconfigOut = values['kubeconfig-out'] ?? '';
  if (!help && kubeconfigOut === '') throw new SandboxArgsError('--kubeconfig-out FILE is required (where to write the kubeconfig)');
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port < 65536)) {
    throw new SandboxArgsError(`--port must be an integer from 0 to 65535, found "${values.port}"`);
  }

  const nodes: NodeSpec[] = (values.node ?? []).map((text) => {
    const colon = text.indexOf(':');
    const name = colon < 0 ? text : text.slice(0, colon);
    if (!DNS_LABEL.test(name)) throw new SandboxArgsError(`--node: expected NAME[:KEY=VALUE,...] with a lowercase DNS name, found "${text}"`);
    const labels = { 'kubernetes.io/hostname': name, ...pairs('--node', colon < 0 ? '' : text.slice(colon + 1)) };
    return { name, labels };
  });
  const nodeNamed = (flag: string, name: string, text: string): NodeSpec => {
    const node = nodes.find((n) => n.name === name);
    if (node === undefined) {
      throw new SandboxArgsError(`${flag} "${text}" names node "${name}", which no --node declares (declared: ${nodes.map((n) => n.name).join(', ') || 'none'})`);
    }
    return node;
  };
  for (const text of values.taint ?? []) {
    const m = /^([^:]+):([^:=]+)(?:=([^:]*))?:([A-Za-z]+)$/.exec(text);
    if (m === null || !EFFECTS.has(m[4]!)) {
      throw new SandboxArgsError(`--taint: expected NODE:KEY[=VALUE]:EFFECT with EFFECT one of NoSchedule, PreferNoSchedule, NoExecute, found "${text}"`);
    }
    const node = nodeNamed('--taint', m[1]!, text);
    node.taints = [...(node.taints ?? []), { key: m[2]!, ...(m[3] === undefined ? {} : { value: m[3] }), effect: m[4] as 'NoSchedule' }];
  }
  for (const text of values.allocatable ?? []) {
    const colon = text.indexOf(':');
    if (colon < 0) throw new SandboxArgsError(`--allocatable: expected NODE:cpu=N,memory=Q,pods=N, found "${text}"`);
    const node = nodeNamed('--allocatable', text.slice(0, colon), text);
    const given = pairs('--allocatable', text.slice(colon + 1));
    for (const k of Object.keys(given)) {
      if (!['cpu', 'memory', 'pods'].includes(k)) throw new SandboxArgsError(`--allocatable: expected cpu, memory or pods, found "${k}" in "${text}"`);
    }
    node.allocatable = given;
  }

  const images: NonNullable<SandboxOptions['images']> = {};
  for (const text of values.image ?? []) {
    const eq = text.lastIndexOf('=');
    if (eq <= 0) throw new SandboxArgsError(`--image: expected IMAGE=DIR, found "${text}"`);
    const dir = path.resolve(cwd, text.slice(eq + 1));
    if (!existsSync(dir)) throw new SandboxArgsError(`--image ${text}: directory ${dir} does not exist`);
    const app = path.join(dir, 'app');
    images[text.slice(0, eq)] = { path: [path.join(dir, 'bin'), ...hostPath], ...(existsSync(app) ? { workingDir: app } : {}) };
  }

  const secrets = (values.secret ?? []).map((t) => object('--secret', t));
  const configMaps = (values.configmap ?? []).map((t) => object('--configmap', t));
  const namespaces = [...new Set(['default', ...(values.namespace ?? []), ...secrets.map((s) => s.namespace), ...configMaps.map((c) => c.namespace)])];
  for (const ns of namespaces) if (!DNS_LABEL.test(ns)) throw new SandboxArgsError(`--namespace: "${ns}" is not a valid namespace name (lowercase a-z, 0-9 and "-")`);

  return {
    kubeconfigOut,
    help,
    secrets,
    configMaps,
    options: {
      ...(port === undefined ? {} : { port }),
      namespaces,
      ...(nodes.length > 0 ? { nodes } : {}),
      ...(Object.keys(images).length > 0 ? { images } : {}),
      scale: values.scale ?? false,
    },
  };
}

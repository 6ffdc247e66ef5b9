#!/usr/bin/env node
// Starts the real control plane (etcd, kube-apiserver, kube-scheduler built from upstream by
// control-plane/build.sh, and the node agent as the kubelet): `npm run cluster -- --kubeconfig-out
// FILE [options]`. Writes the admin kubeconfig to FILE once a Node is Ready and a pod has been
// scheduled, then serves until SIGINT/SIGTERM or until the process that started it exits.
// Needs Node 24 (it imports the TypeScript sources directly).
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const usage = `usage: npm run cluster -- --kubeconfig-out FILE [options]
  --kubeconfig-out FILE     where to write the admin kubeconfig (system:masters), once all is ready
  --namespace NS            a namespace to create, with its default ServiceAccount (repeatable)
  --node NAME[:K=V,...]     a node and its labels (repeatable; default one node "node-1")
  --taint NAME:K[=V]:EFFECT a taint on node NAME (repeatable), e.g. gpu-1:nvidia.com/gpu=true:NoSchedule
  --capacity NAME:R=Q,...   node NAME's capacity (cpu, memory, pods), e.g. gpu-1:cpu=8,memory=32Gi
  --user NAME=FILE          a user authenticated by a bearer token, its kubeconfig written to FILE
                            (no permissions: bind it a Role with the admin kubeconfig) (repeatable)
  --audit-log FILE          kube-apiserver's audit log (every request at Metadata level)
  --no-node-agent           register the nodes by hand, run no kubelet (pods are bound, never run)
  --demo                    set up for the README's example DAG as npm run demo does for the sandbox: its
                            nodes (one labelled org=locale), namespace data-jobs, secret clickhouse-creds
                            and images (stand-ins for clickhouse-client and the migration script)`;

let values;
try {
  ({ values } = parseArgs({
    options: {
      'kubeconfig-out': { type: 'string' },
      namespace: { type: 'string', multiple: true },
      node: { type: 'string', multiple: true },
      taint: { type: 'string', multiple: true },
      capacity: { type: 'string', multiple: true },
      user: { type: 'string', multiple: true },
      'audit-log': { type: 'string' },
      'no-node-agent': { type: 'boolean' },
      demo: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  }));
} catch (err) {
  console.error(`cluster: ${err.message}\n${usage}`);
  process.exit(2);
}
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const fail = (message) => {
  console.error(`cluster: ${message}\n${usage}`);
  process.exit(2);
};
if (!values['kubeconfig-out']) fail('--kubeconfig-out FILE is required (where to write the admin kubeconfig)');
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) fail(`needs Node 24 or later (found ${process.version}); run it with npm run cluster, which uses the node devDependency`);

/** "k=v,k=v" → {k: v}; `what` names the flag in errors. */
function pairs(text, what) {
  const out = {};
  for (const part of text.split(',').filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) fail(`${what}: "${part}" is not KEY=VALUE`);
    out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

const nodes = new Map();
for (const spec of values.node ?? []) {
  const colon = spec.indexOf(':');
  const name = colon < 0 ? spec : spec.slice(0, colon);
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name)) fail(`--node ${spec}: "${name}" is not a valid node name (lower-case letters, digits, '-', '.')`);
  nodes.set(name, { name, labels: colon < 0 ? {} : pairs(spec.slice(colon + 1), `--node ${spec}`), taints: [] });
}
if (nodes.size === 0) nodes.set('node-1', { name: 'node-1', labels: {}, taints: [] });
const nodeOf = (flag, spec) => {
  const colon = spec.indexOf(':');
  const node = nodes.get(spec.slice(0, Math.max(colon, 0)));
  if (!node) fail(`${flag} ${spec}: no node "${spec.slice(0, Math.max(colon, 0))}"; name one given with --node (${[...nodes.keys()].join(', ')})`);
  return [node, spec.slice(colon + 1)];
};
for (const spec of values.taint ?? []) {
  const [node, rest] = nodeOf('--taint', spec);
  const m = /^([^=:]+)(?:=([^:]*))?:(NoSchedule|PreferNoSchedule|NoExecute)$/.exec(rest);
  if (!m) fail(`--taint ${spec}: expected NAME:KEY[=VALUE]:EFFECT with EFFECT NoSchedule, PreferNoSchedule or NoExecute`);
  node.taints.push({ key: m[1], ...(m[2] === undefined ? {} : { value: m[2] }), effect: m[3] });
}
for (const spec of values.capacity ?? []) {
  const [node, rest] = nodeOf('--capacity', spec);
  const res = pairs(rest, `--capacity ${spec}`);
  for (const k of Object.keys(res)) if (!['cpu', 'memory', 'pods'].includes(k)) fail(`--capacity ${spec}: "${k}" is not one of cpu, memory, pods`);
  node.allocatable = res;
}
const users = new Map();
for (const spec of values.user ?? []) {
  const eq = spec.indexOf('=');
  if (eq <= 0 || eq === spec.length - 1) fail(`--user ${spec}: expected NAME=FILE (the user's name, and where to write its kubeconfig)`);
  users.set(spec.slice(0, eq), spec.slice(eq + 1));
}

const { startControlPlane } = await import('../control-plane/index.ts');
const demo = values.demo ? await import('../test/fixtures/demo-cluster.ts') : undefined;
if (demo && values.node) fail('--demo brings its own nodes; leave out --node');
const started = Date.now();
let cluster;
try {
  cluster = await startControlPlane({
    nodes: demo ? demo.DEMO_NODES : [...nodes.values()],
    namespaces: [...(values.namespace ?? []), ...(demo ? ['data-jobs'] : [])],
    ...(demo ? { images: demo.DEMO_IMAGES } : {}),
    tokenUsers: [...users.keys()],
    auditLog: values['audit-log'],
    nodeAgent: !values['no-node-agent'],
    log: (line) => console.log(`cluster: ${line}`),
  });
} catch (err) {
  console.error(err.message);
  process.exit(1);
}
if (demo) {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  kc.loadFromString(cluster.adminKubeconfig);
  await kc.makeApiClient(k8s.CoreV1Api).createNamespacedSecret({ namespace: 'data-jobs', body: { metadata: { name: 'clickhouse-creds' }, stringData: { password: demo.DEMO_PASSWORD } } });
  nodes.clear();
  for (const n of demo.DEMO_NODES) nodes.set(n.name, n);
}
for (const [name, file] of users) writeFileSync(file, cluster.userKubeconfig(name), { mode: 0o600 });
writeFileSync(values['kubeconfig-out'], cluster.adminKubeconfig, { mode: 0o600 });
console.log(`cluster: serving ${cluster.url} (ready in ${((Date.now() - started) / 1000).toFixed(1)} s; nodes: ${[...nodes.keys()].join(', ')}${cluster.runsPods ? '' : ', no node agent: pods are never run'})`);
console.log(`cluster: admin kubeconfig written to ${values['kubeconfig-out']}; audit log ${cluster.auditLogPath}; stop with Ctrl-C or SIGTERM`);

let stopping = false;
const stop = async (signal) => {
  if (stopping) return;
  stopping = true;
  console.log(`cluster: ${signal}, shutting down`);
  await cluster.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
// `npm run cluster` does not pass a SIGTERM sent to npm on to this script, and npm's `sh -c` may
// stay alive as this process's parent when npm dies: stop, as if signalled, when the parent or
// the grandparent (npm) goes away.
const ancestors = [process.ppid];
try {
  const stat = readFileSync(`/proc/${process.ppid}/stat`, 'utf8');
  const grandparent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  if (grandparent > 1) ancestors.push(grandparent);
} catch {
  // No /proc: watch the parent only.
}
const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
};
setInterval(() => {
  if (process.ppid !== ancestors[0] || !ancestors.every(alive)) void stop('parent process exited');
}, 1000).unref();

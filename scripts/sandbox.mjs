#!/usr/bin/env node
// Starts the sandbox cluster standalone: `npm run sandbox -- --kubeconfig-out FILE [--port N]
// [--namespace NS]... [--node NAME:KEY=VALUE,...]... [--taint NODE:KEY=VALUE:EFFECT]...
// [--secret NS/NAME:KEY=VALUE,...]... [--image IMAGE=DIR]... [--scale]` (sandbox/cli-args.ts says
// each flag). Writes a kubeconfig for the all-powerful user, prints what it set up, and serves
// until SIGTERM or SIGINT. Needs Node 24 (it imports the TypeScript sources directly).
import { writeFileSync } from 'node:fs';
import path from 'node:path';

const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  console.error(`sandbox: needs Node 24 or later (found ${process.version}); run it with npm run sandbox, which uses the node devDependency`);
  process.exit(2);
}

const { parseSandboxArgs, SandboxArgsError, SANDBOX_USAGE } = await import('../sandbox/cli-args.ts');
// An image's PATH ends with the host's, so that node, python3 and sh are found as in the tests.
const hostPath = [path.dirname(process.execPath), ...(process.env.PATH ?? '/usr/bin:/bin').split(':')];
let command;
try {
  command = parseSandboxArgs(process.argv.slice(2), process.cwd(), hostPath);
} catch (err) {
  if (!(err instanceof SandboxArgsError)) throw err;
  console.error(`sandbox: ${err.message}\n${SANDBOX_USAGE}`);
  process.exit(2);
}
if (command.help) {
  console.log(SANDBOX_USAGE);
  process.exit(0);
}

const { startSandbox } = await import('../sandbox/index.ts');
const sandbox = await startSandbox(command.options);
for (const s of command.secrets) sandbox.createSecret(s.namespace, s.name, s.data);
for (const c of command.configMaps) sandbox.createConfigMap(c.namespace, c.name, c.data);
writeFileSync(command.kubeconfigOut, sandbox.kubeconfig(), { mode: 0o600 });
const nodes = (command.options.nodes ?? [{ name: 'sandbox-node-1' }]).map((n) => {
  const labels = Object.entries(n.labels ?? {}).filter(([k]) => k !== 'kubernetes.io/hostname').map(([k, v]) => `${k}=${v}`);
  const taints = (n.taints ?? []).map((t) => `${t.key}${t.value === undefined ? '' : `=${t.value}`}:${t.effect}`);
  return `${n.name}${labels.length > 0 ? ` (${labels.join(', ')})` : ''}${taints.length > 0 ? ` tainted ${taints.join(', ')}` : ''}`;
});
console.log(`sandbox: serving ${sandbox.url}`);
console.log(`sandbox: namespaces ${command.options.namespaces.join(', ')}; nodes ${nodes.join('; ')}`);
for (const s of command.secrets) console.log(`sandbox: secret ${s.namespace}/${s.name} (keys ${Object.keys(s.data).join(', ') || 'none'})`);
for (const c of command.configMaps) console.log(`sandbox: configmap ${c.namespace}/${c.name} (keys ${Object.keys(c.data).join(', ') || 'none'})`);
console.log(`sandbox: kubeconfig written to ${command.kubeconfigOut}; stop with Ctrl-C or SIGTERM`);

let stopping = false;
const stop = async (signal) => {
  if (stopping) return;
  stopping = true;
  console.log(`sandbox: ${signal}, shutting down`);
  await sandbox.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
// `npm run sandbox` does not pass a SIGTERM sent to npm on to this script: when the process that
// started it goes away (this one is re-parented), stop as if signalled instead of serving on.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) void stop('parent process exited');
}, 1000).unref();

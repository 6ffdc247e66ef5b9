#!/usr/bin/env node
// Starts the sandbox cluster standalone: `npm run sandbox -- --kubeconfig-out FILE [--port N]
// [--namespace NS]... [--scale]`. Writes a kubeconfig for the all-powerful user, prints the URL,
// and serves until SIGTERM or SIGINT. Needs Node 24 (it imports the TypeScript sources directly).
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const usage = 'usage: npm run sandbox -- --kubeconfig-out FILE [--port N] [--namespace NS]... [--scale]';
let values;
try {
  ({ values } = parseArgs({
    options: {
      'kubeconfig-out': { type: 'string' },
      port: { type: 'string' },
      namespace: { type: 'string', multiple: true },
      scale: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  }));
} catch (err) {
  console.error(`sandbox: ${err.message}\n${usage}`);
  process.exit(2);
}
if (values.help) {
  console.log(usage);
  process.exit(0);
}
if (!values['kubeconfig-out']) {
  console.error(`sandbox: --kubeconfig-out FILE is required (where to write the kubeconfig)\n${usage}`);
  process.exit(2);
}
const port = values.port === undefined ? undefined : Number(values.port);
if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port < 65536)) {
  console.error(`sandbox: --port must be an integer from 0 to 65535, got "${values.port}"`);
  process.exit(2);
}
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  console.error(`sandbox: needs Node 24 or later (found ${process.version}); run it with npm run sandbox, which uses the node devDependency`);
  process.exit(2);
}

const { startSandbox } = await import('../sandbox/index.ts');
const namespaces = ['default', ...(values.namespace ?? []).filter((n) => n !== 'default')];
const sandbox = await startSandbox({ port, namespaces, scale: values.scale ?? false });
writeFileSync(values['kubeconfig-out'], sandbox.kubeconfig(), { mode: 0o600 });
console.log(`sandbox: serving ${sandbox.url} (namespaces: ${namespaces.join(', ')})`);
console.log(`sandbox: kubeconfig written to ${values['kubeconfig-out']}; stop with Ctrl-C or SIGTERM`);

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

// scratch (not committed): one wide run in a child with node flags
import { spawn } from 'node:child_process';
import path from 'node:path';
import { startSandbox } from '../sandbox/index.ts';
import { NAMESPACE } from './common.ts';
const [n, par, ...flags] = process.argv.slice(2);
const sb = await startSandbox({ namespaces: [NAMESPACE], scale: true, historyLimit: 200_000 });
const t0 = performance.now();
const child = spawn(process.execPath, [...flags, path.join(import.meta.dirname, 'child.ts'), 'wide', JSON.stringify({ tasks: Number(n), maxParallel: Number(par ?? 200), qps: 100000 })], {
  env: { ...process.env, BENCH_KUBECONFIG: sb.kubeconfig({ namespace: NAMESPACE }) }, stdio: ['ignore', 'inherit', 'inherit'], cwd: '/tmp/scale',
});
await new Promise((r) => child.on('exit', r));
console.log('total', Math.round(performance.now() - t0), 'ms', JSON.stringify(sb.counters.snapshot()));
await sb.close();
process.exit(0);

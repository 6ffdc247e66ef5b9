/**
 * The one bundle's entry point (dist/index.js). The action's main step, its post step and the
 * CLI share one bundle, so the Kubernetes client (most of the bundle's size) ships once:
 * dist/post.js and dist/cli.js are two-line files that name their entry in
 * `globalThis.__POD_DAG_ENTRY__` and import dist/index.js. The Kubernetes client itself is in
 * chunks (dist/<id>.index.js) that dist/index.js loads only for `run` and `dry-run`
 * (action/steps.ts, cli/commands.ts), so `plan` and `validate` start without it.
 */
import { main } from './action/main.ts';
import { post } from './action/post.ts';
import { cli } from './cli/main.ts';

const entry = (globalThis as { __POD_DAG_ENTRY__?: string }).__POD_DAG_ENTRY__ ?? 'main';
if (entry === 'post') await post();
else if (entry === 'cli') cli();
else await main();

/**
 * The one bundle's entry point (dist/index.js). The action's main step, its post step and the
 * CLI share one bundle, so the Kubernetes client (most of the bundle's size) ships once:
 * dist/post.js and dist/cli.js are two-line files that name their entry in
 * `globalThis.__POD_DAG_ENTRY__` and import dist/index.js.
 */
import { cli } from './cli.ts';
import { main } from './main.ts';
import { post } from './post.ts';

const entry = (globalThis as { __POD_DAG_ENTRY__?: string }).__POD_DAG_ENTRY__ ?? 'main';
if (entry === 'post') await post();
else if (entry === 'cli') cli();
else await main();

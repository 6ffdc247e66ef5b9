/**
 * A control plane killed with SIGKILL runs no close(): its components die with it (setpriv's
 * pdeathsig) but its work dir (etcd's data, ~100 MB) stays in the temporary directory. The next
 * start removes every such dir whose owner process is gone, and nothing else.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ownerLine, removeStaleDirs } from '../../control-plane/index.ts';

let tmp: string;
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

/** A work dir as startControlPlane makes it, with an owner file (or none). */
function workDir(name: string, owner?: string): string {
  const dir = path.join(tmp, `pod-dag-control-plane-${name}`);
  mkdirSync(path.join(dir, 'etcd'), { recursive: true });
  writeFileSync(path.join(dir, 'etcd', 'db'), 'data');
  if (owner !== undefined) writeFileSync(path.join(dir, 'owner'), `${owner}\n`);
  return dir;
}

/** The owner line of a process that ran and was SIGKILLed (its pid is free, or someone else's now). */
async function killedOwner(): Promise<string> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('spawn', resolve));
  const line = ownerLine(child.pid!);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  return line;
}

describe('the work dirs of killed control planes', () => {
  it('removes those whose owner is gone or whose pid now names another process; keeps live ones and those without an owner file', async () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'pod-dag-stale-'));
    const killed = workDir('killed', await killedOwner());
    const reused = workDir('reused', `${process.pid} 1`); // this pid, but a process that started at tick 1: not us
    const live = workDir('live', ownerLine());
    const starting = workDir('starting'); // no owner file yet (or from before owner files)
    const other = path.join(tmp, 'something-else');
    mkdirSync(other);

    expect(removeStaleDirs(tmp).sort()).toEqual([killed, reused].sort());
    expect([killed, reused].map(existsSync)).toEqual([false, false]);
    expect([live, starting, other].map(existsSync)).toEqual([true, true, true]);
    expect(removeStaleDirs(tmp)).toEqual([]);
  });

  it('does nothing when the temporary directory cannot be read', () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'pod-dag-stale-'));
    expect(removeStaleDirs(path.join(tmp, 'missing'))).toEqual([]);
  });
});

/**
 * The container runtimes of the node agents (the sandbox's and the real API server's): scripted
 * behaviours chosen by a `sandbox/...` image name, and real local processes with the kubelet's
 * termination-message file, exit codes and containerd's StartError wording.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync, writeFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { expand } from './env.ts';
import type { ContainerLog } from './logs.ts';

/** What a locally run image "contains": its working directory, PATH entries and environment. */
export interface ImageSpec {
  /** The image's ENTRYPOINT: what runs when the container gives no `command`. */
  entrypoint?: string[];
  /** The image's CMD: the arguments when the container gives neither `command` nor `args`. */
  cmd?: string[];
  workingDir?: string;
  /** A directory standing for the image's file system: an absolute command (/opt/x/bin/y) found under it runs from there. */
  root?: string;
  path?: string[];
  env?: Record<string, string>;
}

/** The parts of a container spec a runtime reads. */
export interface RuntimeContainer {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  terminationMessagePath?: string;
  terminationMessagePolicy?: string;
}

/** A scripted behaviour, from a `sandbox/...` image name. */
export type Scripted =
  | { kind: 'succeed' }
  | { kind: 'sleep'; seconds: number }
  | { kind: 'exit'; code: number }
  | { kind: 'oomkilled' }
  | { kind: 'evicted' }
  | { kind: 'image-pull-error' }
  | { kind: 'never-scheduled' }
  | { kind: 'unknown' };

/** Reads a `sandbox/...` image name; undefined for any other image. */
export function scriptedImage(image: string): Scripted | undefined {
  const m = /^sandbox\/([a-z-]+)(?::(.*))?$/.exec(image);
  if (!m) return undefined;
  const arg = m[2];
  switch (m[1]) {
    case 'succeed': return { kind: 'succeed' };
    case 'sleep': {
      const seconds = arg === 'forever' ? Infinity : Number(arg);
      return Number.isFinite(seconds) || seconds === Infinity ? { kind: 'sleep', seconds: Math.max(0, seconds) } : { kind: 'unknown' };
    }
    case 'exit': {
      const code = Number(arg);
      return Number.isInteger(code) && code >= 0 && code <= 255 ? { kind: 'exit', code } : { kind: 'unknown' };
    }
    case 'oomkilled': return { kind: 'oomkilled' };
    case 'evicted': return { kind: 'evicted' };
    case 'image-pull-error': return { kind: 'image-pull-error' };
    case 'never-scheduled': return { kind: 'never-scheduled' };
    default: return { kind: 'unknown' };
  }
}

/** The message containerd gives for an image that cannot be pulled (NotFound). */
export function imagePullMessage(image: string): string {
  const ref = image.includes('/') && image.split('/')[0]!.includes('.') ? image : `docker.io/${image}`;
  const full = /:[^/]+$/.test(ref) ? ref : `${ref}:latest`;
  return `rpc error: code = NotFound desc = failed to pull and unpack image "${full}": failed to resolve reference "${full}": ${full}: not found`;
}

/** A container's terminated state, as the kubelet reports it. */
export interface Terminated {
  exitCode: number;
  reason: string;
  message?: string;
  startedAt?: string;
  finishedAt: string;
  containerID?: string;
}

/** Kubernetes' timestamps: RFC 3339 to the second. */
export function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

/** What the runtime tells the kubelet about a process it started. */
export interface ProcessEvents {
  /** The process runs. */
  running(): void;
  /** It exited, or never started (StartError); called once. */
  exited(t: Terminated): void;
}

/** A started process: stop it with a signal (to its process group); `exited` settles once it is gone. */
export interface ProcessHandle {
  kill(signal: 'SIGTERM' | 'SIGKILL'): void;
  exited: Promise<void>;
}

const START_ERROR = 'failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: ';

/**
 * Runs a container as a local process, never through a shell: argv after $(VAR) expansion,
 * stdout and stderr into `log`, the termination-message file created in `dir` and every mention of
 * its declared path (env, command, args) mapped to it. A problem before the process exists
 * (no command, no working directory, no executable) is reported as containerd does: exit code 128,
 * reason StartError. Returns undefined when it could not spawn (`exited` is called later).
 */
export function runProcess(
  c: RuntimeContainer, env: Map<string, string>, image: ImageSpec, dir: string, log: ContainerLog,
  containerID: string | undefined, on: ProcessEvents, defer: (fn: () => void) => void,
): ProcessHandle | undefined {
  mkdirSync(dir, { recursive: true });
  const termPath = join(dir, 'termination-log');
  writeFileSync(termPath, '');
  const declared = c.terminationMessagePath ?? '/dev/termination-log';
  // The container sees its termination-message file at `declared`; on this host it lives at
  // termPath, so every mention of the declared path in env, command and args is mapped.
  const mapPath = (s: string): string => (declared ? s.split(declared).join(termPath) : s);
  const envObj: Record<string, string> = {};
  for (const [k, v] of env) envObj[k] = mapPath(v);
  envObj.HOME ??= dir;
  // Kubernetes' rule: a container's command replaces the image's ENTRYPOINT and CMD; args alone replace only CMD.
  const argv = (c.command ? [...c.command, ...(c.args ?? [])] : [...(image.entrypoint ?? []), ...(c.args ?? image.cmd ?? [])]).map((a) => mapPath(expand(a, env)));
  const startedAt = now();
  const cwd = c.workingDir ?? image.workingDir ?? process.cwd();
  const fail = (message: string): void => {
    on.exited({ exitCode: 128, reason: 'StartError', message, startedAt: '1970-01-01T00:00:00Z', finishedAt: now(), containerID });
  };
  if (argv.length === 0) {
    defer(() => fail(`${START_ERROR}error during container init: no command specified: unknown`));
    return undefined;
  }
  if (!existsSync(cwd)) {
    defer(() => fail(`${START_ERROR}error during container init: chdir to cwd ("${cwd}") set in config.json failed: no such file or directory: unknown`));
    return undefined;
  }
  const inRoot = image.root && argv[0]!.startsWith('/') ? join(image.root, argv[0]!) : undefined;
  const cmd = inRoot && existsSync(inRoot) ? inRoot : argv[0]!;
  let child: ChildProcess;
  try {
    child = spawn(cmd, argv.slice(1), { cwd, env: envObj, stdio: ['ignore', 'pipe', 'pipe'], detached: true, shell: false });
  } catch (err) {
    defer(() => fail(`${START_ERROR}exec: "${cmd}": ${(err as Error).message}: unknown`));
    return undefined;
  }
  let spawned = false;
  let done = false;
  let resolveExit!: () => void;
  const exited = new Promise<void>((r) => (resolveExit = r));
  const end = (t: Terminated): void => {
    if (done) return;
    done = true;
    resolveExit();
    on.exited(t);
  };
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => log.write('stdout', d));
  child.stderr!.on('data', (d: string) => log.write('stderr', d));
  child.on('spawn', () => {
    spawned = true;
    on.running();
  });
  child.on('error', (err: NodeJS.ErrnoException) => {
    if (spawned) return;
    const detail = err.code === 'ENOENT'
      ? (cmd.includes('/') ? `exec: "${cmd}": stat ${cmd}: no such file or directory` : `exec: "${cmd}": executable file not found in $PATH`)
      : `exec: "${cmd}": ${err.code === 'EACCES' ? 'permission denied' : err.message}`;
    end({ exitCode: 128, reason: 'StartError', message: `${START_ERROR}${detail}: unknown`, startedAt: '1970-01-01T00:00:00Z', finishedAt: now(), containerID });
  });
  child.on('close', (code, signal) => {
    if (!spawned) return;
    const exitCode = code ?? 128 + (signal ? (osConstants.signals[signal] ?? 9) : 9);
    let message = readTail(termPath, 4096);
    if (!message && c.terminationMessagePolicy === 'FallbackToLogsOnError' && exitCode !== 0) message = log.tail(80, 2048);
    end({ exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', ...(message ? { message } : {}), startedAt, finishedAt: now(), containerID });
  });
  return {
    exited,
    kill: (signal) => {
      if (child.pid === undefined || done) return;
      try {
        // The process group, so children of the container's process go too.
        process.kill(-child.pid, signal);
      } catch {
        try {
          child.kill(signal);
        } catch {
          // already gone
        }
      }
    },
  };
}

/** The last `max` bytes of a file, as the kubelet reads a termination message; "" if absent. */
export function readTail(path: string, max: number): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return '';
  }
  try {
    const size = fstatSync(fd).size;
    const len = Math.min(size, max);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    return buf.toString();
  } finally {
    closeSync(fd);
  }
}

/** `pods/log`: a container's log, once or followed, with timestamps, sinceTime, tailLines and limitBytes. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { containerInstance, nowNanos, parseRfc3339, streamLog } from './logs.ts';
import { badRequest, cause, invalid } from './status.ts';
import { type ServerContext, type Route, mustGet, queryBool } from './http.ts';

/** Serves pods/log as the kubelet does, including its 400s for containers with no log yet. */
export function podLog(ctx: ServerContext, r: Route, req: IncomingMessage, res: ServerResponse, q: URLSearchParams): void {
  const pod = mustGet(ctx, { ...r, sub: undefined });
  const spec = pod.spec as { nodeName?: string; containers: { name: string }[]; initContainers?: { name: string }[] };
  const names = spec.containers.map((c) => c.name);
  const initNames = (spec.initContainers ?? []).map((c) => c.name);
  let container = q.get('container') ?? '';
  if (!container) {
    if (names.length !== 1) {
      const init = initNames.length ? ` or one of the init containers: [${initNames.join(' ')}]` : '';
      throw badRequest(`a container name must be specified for pod ${pod.metadata.name}, choose one of: [${names.join(' ')}]${init}`);
    }
    container = names[0]!;
  }
  if (!names.includes(container) && !initNames.includes(container)) throw badRequest(`container ${container} is not valid for pod ${pod.metadata.name}`);
  const causes = [];
  const tail = q.get('tailLines');
  const limit = q.get('limitBytes');
  const sinceSeconds = q.get('sinceSeconds');
  const sinceTime = q.get('sinceTime');
  if (tail !== null && !(Number(tail) >= 0)) causes.push(cause('FieldValueInvalid', 'tailLines', `Invalid value: ${tail}: must be greater than or equal to 0`));
  if (limit !== null && !(Number(limit) >= 1)) causes.push(cause('FieldValueInvalid', 'limitBytes', `Invalid value: ${limit}: must be greater than 0`));
  if (sinceSeconds !== null && !(Number(sinceSeconds) >= 1)) causes.push(cause('FieldValueInvalid', 'sinceSeconds', `Invalid value: ${sinceSeconds}: must be greater than 0`));
  if (sinceSeconds !== null && sinceTime !== null) causes.push(cause('FieldValueForbidden', '', 'Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified'));
  if (causes.length) throw invalid('PodLogOptions', '', '', causes);
  let since: number | undefined;
  if (sinceTime !== null) {
    since = parseRfc3339(sinceTime);
    if (since === undefined) throw badRequest(`parsing time "${sinceTime}" as "2006-01-02T15:04:05Z07:00": cannot parse "${sinceTime}" as "2006"`);
  } else if (sinceSeconds !== null) {
    since = nowNanos() - Number(sinceSeconds) * 1_000_000_000;
  }
  const start = (): void => {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
  };
  if (!spec.nodeName) {
    // apiserver has no node to ask: an empty log.
    start();
    res.end();
    return;
  }
  const previous = queryBool(q, 'previous');
  const instance = containerInstance(pod, container, previous);
  if (typeof instance === 'string') throw badRequest(instance);
  const log = ctx.logs.get(pod.metadata.uid!, container, instance);
  const cut = ctx.faults.cutLogsAfterBytes;
  start();
  streamLog(req, res, log, {
    follow: queryBool(q, 'follow') && !previous,
    timestamps: queryBool(q, 'timestamps'),
    since,
    tailLines: tail !== null ? Number(tail) : undefined,
    maxBytes: Math.min(limit !== null ? Number(limit) : Infinity, cut ?? Infinity),
    open: ctx.streams,
  });
}

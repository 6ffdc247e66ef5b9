/**
 * Kubernetes `Status` bodies, worded as kube-apiserver words them
 * (k8s.io/apimachinery/pkg/api/errors). Clients match on `reason` and `code`, people read
 * `message`: both must be what a real cluster sends.
 */
import type { ResourceInfo } from './resources.ts';

/** A field-level cause of a 422 Invalid answer. */
export interface StatusCause {
  reason: 'FieldValueRequired' | 'FieldValueInvalid' | 'FieldValueDuplicate' | 'FieldValueNotSupported' | 'FieldValueForbidden' | 'FieldValueTooLong';
  message: string;
  field: string;
}

/** A `Status` object with the HTTP code it is sent with. */
export interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message?: string;
  reason?: string;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    uid?: string;
    causes?: StatusCause[];
    retryAfterSeconds?: number;
  };
  code: number;
}

/** An error the server answers with; thrown by handlers, caught at the top of the request. */
export class ApiError extends Error {
  /** The `Status` body sent to the client. */
  readonly body: StatusBody;
  /** Extra response headers (Retry-After). */
  readonly headers: Record<string, string>;
  constructor(body: StatusBody, headers: Record<string, string> = {}) {
    super(body.message ?? body.reason ?? String(body.code));
    this.body = body;
    this.headers = headers;
  }
  /** The HTTP status code. */
  get code(): number {
    return this.body.code;
  }
}

function status(code: number, reason: string, message: string, details?: StatusBody['details']): StatusBody {
  // Field order as apiserver serializes a Status.
  const body = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason } as StatusBody;
  if (details) body.details = details;
  body.code = code;
  return body;
}

/** "pods" or "leases.coordination.k8s.io", as apiserver names a resource in messages. */
export function qualifiedName(res: Pick<ResourceInfo, 'plural' | 'group'>): string {
  return res.group ? `${res.plural}.${res.group}` : res.plural;
}

function details(res: Pick<ResourceInfo, 'plural' | 'group'>, name?: string): NonNullable<StatusBody['details']> {
  const d: NonNullable<StatusBody['details']> = {};
  if (name !== undefined) d.name = name;
  if (res.group) d.group = res.group;
  d.kind = res.plural;
  return d;
}

/** 401: no or unknown bearer token. */
export function unauthorized(): ApiError {
  return new ApiError(status(401, 'Unauthorized', 'Unauthorized'));
}

/** 403: RBAC denied `verb` on a resource (subresource as "pods/log"). */
export function forbidden(
  user: string,
  verb: string,
  res: Pick<ResourceInfo, 'plural' | 'group'>,
  subresource: string | undefined,
  namespace: string | undefined,
  name: string | undefined,
): ApiError {
  const resource = subresource ? `${res.plural}/${subresource}` : res.plural;
  const what = name ? `${qualifiedName(res)} "${name}"` : qualifiedName(res);
  const scope = namespace ? `in the namespace "${namespace}"` : 'at the cluster scope';
  const message = `${what} is forbidden: User "${user}" cannot ${verb} resource "${resource}" in API group "${res.group}" ${scope}`;
  return new ApiError(status(403, 'Forbidden', message, details(res, name)));
}

/** 404 for a named object. */
export function notFound(res: Pick<ResourceInfo, 'plural' | 'group'>, name: string): ApiError {
  return new ApiError(status(404, 'NotFound', `${qualifiedName(res)} "${name}" not found`, details(res, name)));
}

/** 404 for a path the server does not serve. */
export function pathNotFound(): ApiError {
  return new ApiError(status(404, 'NotFound', 'the server could not find the requested resource', {}));
}

/** 409 AlreadyExists on create. */
export function alreadyExists(res: Pick<ResourceInfo, 'plural' | 'group'>, name: string): ApiError {
  return new ApiError(status(409, 'AlreadyExists', `${qualifiedName(res)} "${name}" already exists`, details(res, name)));
}

/** 409 Conflict: an update carried a stale resourceVersion. */
export function conflict(res: Pick<ResourceInfo, 'plural' | 'group'>, name: string): ApiError {
  const message = `Operation cannot be fulfilled on ${qualifiedName(res)} "${name}": the object has been modified; please apply your changes to the latest version and try again`;
  return new ApiError(status(409, 'Conflict', message, details(res, name)));
}

/** 409 Conflict with a custom message (uid precondition, namespace terminating...). */
export function conflictMessage(res: Pick<ResourceInfo, 'plural' | 'group'>, name: string, message: string): ApiError {
  return new ApiError(status(409, 'Conflict', `Operation cannot be fulfilled on ${qualifiedName(res)} "${name}": ${message}`, details(res, name)));
}

/** The 410 Expired Status for a resourceVersion older than the history kept. */
export function expiredBody(requested: string, oldest: number): StatusBody {
  return status(410, 'Expired', `too old resource version: ${requested} (${oldest})`);
}

/** 410 Expired as an error (lists with resourceVersionMatch=Exact, continue tokens). */
export function expired(requested: string, oldest: number): ApiError {
  return new ApiError(expiredBody(requested, oldest));
}

/** 422 Invalid with field causes; `kind` is the object kind ("Pod"). */
export function invalid(kind: string, group: string, name: string, causes: StatusCause[]): ApiError {
  const parts = causes.map((c) => `${c.field}: ${c.message}`);
  const list = parts.length === 1 ? parts[0] : `[${parts.join(', ')}]`;
  const d: NonNullable<StatusBody['details']> = { name, kind, causes };
  if (group) d.group = group;
  const prefix = group ? `${kind}.${group}` : kind;
  return new ApiError(status(422, 'Invalid', `${prefix} "${name}" is invalid: ${list}`, d));
}

/** 400 BadRequest. */
export function badRequest(message: string): ApiError {
  return new ApiError(status(400, 'BadRequest', message));
}

/** 405 MethodNotAllowed. */
export function methodNotAllowed(): ApiError {
  return new ApiError(status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'));
}

/** 415 UnsupportedMediaType for a patch type the server does not take. */
export function unsupportedMediaType(contentType: string): ApiError {
  return new ApiError(status(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got ${contentType})`));
}

/** 429 TooManyRequests with Retry-After, as the apiserver's max-in-flight filter answers. */
export function tooManyRequests(retryAfterSeconds: number): ApiError {
  return new ApiError(
    status(429, 'TooManyRequests', 'Too many requests, please try again later.', { retryAfterSeconds }),
    { 'Retry-After': String(retryAfterSeconds) },
  );
}

/** 503 ServiceUnavailable, with Retry-After when given (an API server restarting, a proxy without a backend). */
export function serviceUnavailable(retryAfterSeconds?: number): ApiError {
  return new ApiError(
    status(503, 'ServiceUnavailable', 'The server is currently unable to handle the request', retryAfterSeconds === undefined ? undefined : { retryAfterSeconds }),
    retryAfterSeconds === undefined ? {} : { 'Retry-After': String(retryAfterSeconds) },
  );
}

/** 500 InternalError. */
export function internalError(message: string): ApiError {
  return new ApiError(status(500, 'InternalError', `Internal error occurred: ${message}`));
}

/** Builds a cause. */
export function cause(reason: StatusCause['reason'], field: string, message: string): StatusCause {
  return { reason, message, field };
}

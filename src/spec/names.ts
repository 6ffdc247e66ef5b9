/**
 * Names that end up in Kubernetes objects: the DAG name and task ids are used in pod names
 * (`<dag>-<run>-<task>-<attempt>`) and as label values, so each must be a lowercase RFC 1123
 * label short enough that the pod name stays within 63 characters.
 */

/** The longest DAG name or task id (a label value may be 63; the rest of a pod name needs room). */
export const MAX_NAME_LENGTH = 40;

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Why `name` is not a valid DAG or task name, or `null` when it is. */
export function nameProblem(name: string): string | null {
  if (name.length === 0) return 'it is empty';
  if (name.length > MAX_NAME_LENGTH) return `it is ${name.length} characters long, the limit is ${MAX_NAME_LENGTH}`;
  if (!LABEL.test(name)) {
    return 'it must be a lowercase RFC 1123 label: only a-z, 0-9 and "-", starting and ending with a letter or digit';
  }
  return null;
}

/** The closest valid name to `name` (`Migrate_Data` → `migrate-data`), or `null` if none can be made. */
export function fixName(name: string): string | null {
  const fixed = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-+/, '')
    .slice(0, MAX_NAME_LENGTH)
    .replace(/-+$/, '');
  return fixed === '' || fixed === name ? null : fixed;
}

/** Param names as they can be referenced in `{{ params.<name> }}` and `if:` expressions. */
export const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** Environment variable names Kubernetes accepts. */
export const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/**
 * Names JavaScript gives a meaning of their own on every object (`__proto__`, `constructor`,
 * `toString`…, and `prototype`). A param, task id or output name spelled so could reach the
 * prototype of a plain object instead of a value, so each is refused with a message saying why.
 */
export const RESERVED_NAMES: ReadonlySet<string> = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype']);

/** Why `name` (a param, task id or output name) may not be used, or null. */
export function reservedNameProblem(name: string): string | null {
  return RESERVED_NAMES.has(name) ? `"${name}" is reserved (JavaScript gives it a meaning of its own on every object); choose another name` : null;
}

/** Output names: letters, digits, `_`, `-` and `.`, starting with a letter or `_` (README, "Outputs between tasks"). */
export const OUTPUT_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** Why `ns` is not a valid Kubernetes namespace name (a DNS-1123 label), or null. */
export function namespaceProblem(ns: string): string | null {
  if (ns.length > 63 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(ns)) {
    return "a Kubernetes namespace name: lower-case letters, digits and '-', at most 63 characters, starting and ending with a letter or digit";
  }
  return null;
}

// An image reference, as distribution/reference (the grammar of docker and containerd) reads it:
// [domain[:port]/]path[/path…][:tag][@digest].
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?`;
const IMAGE_REFERENCE = new RegExp(
  `^(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*(?::[\\w][\\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,})?$`,
);

/**
 * Why `image` is not an image reference a node can pull, or `null` when it is. Kubernetes only
 * refuses an empty image when the pod is created; anything else fails on the node, after the
 * pod was scheduled (InvalidImageName).
 */
export function imageProblem(image: string): string | null {
  if (image.trim() === '') return 'it is empty';
  if (image.length > 255 + 1 + 128 + 1 + 71) return `it is ${image.length} characters long`;
  if (IMAGE_REFERENCE.test(image)) return null;
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f-\u009f]/.test(image)) return 'it holds spaces, line breaks or control characters';
  if (IMAGE_REFERENCE.test(image.toLowerCase())) return `repository names are lowercase; did you mean "${image.toLowerCase()}"?`;
  return 'expected [registry/]repository[:tag][@digest], e.g. "busybox:1.37" or "registry.example.com/team/app:2.1"';
}

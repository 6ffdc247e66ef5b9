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

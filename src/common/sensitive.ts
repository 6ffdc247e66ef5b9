/**
 * Params whose name says they hold a credential (`db_password`, `api_token`, `SECRET_KEY`…), as
 * Airflow hides the values of variables and connection fields whose names contain one of its
 * DEFAULT_SENSITIVE_FIELDS: their values are masked in the step log and shown as `***` in the job
 * summary and the `summary-json` file, like the action's own credentials. A value passed from
 * `${{ secrets.X }}` is masked by the runner in the log anyway; the summary-json file and the
 * `outputs` output, which later steps read, are not.
 */

/** A name that says its value is a credential. */
const SENSITIVE_NAME = /passw(or)?d|passphrase|secret|token|api[_-]?key|apikey|private[_-]?key|access[_-]?key|authorization|credential/i;

/** Whether a param (or variable) called `name` holds a credential. */
export function isSensitiveName(name: string): boolean {
  return SENSITIVE_NAME.test(name);
}

/** What is shown for the value of a sensitive param. */
export const HIDDEN_VALUE = '***';

/** The params as they are shown: every sensitive one's value replaced by `***`. */
export function shownParams(params: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(params).map(([k, v]) => [k, isSensitiveName(k) && v !== '' ? HIDDEN_VALUE : v]));
}

/**
 * The values of the sensitive params, to mask and redact wherever else they appear (a rendered
 * command, a task's log, an output). Values under 4 characters are left out, as the action's
 * credentials are: replacing `no` or `1` everywhere would hide the rest of the log.
 */
export function sensitiveValues(params: Readonly<Record<string, string>>): string[] {
  return Object.entries(params)
    .filter(([k, v]) => isSensitiveName(k) && v.trim().length >= 4)
    .map(([, v]) => v);
}

/**
 * User info in URLs (`https://user:password@host`): a kubeconfig's `server` or `proxy-url`, or the
 * `server` input, may carry a password, and a URL is exactly what error messages quote (undici
 * refuses such a URL with a message that repeats it whole). So the password is masked like any
 * credential, and a URL the action shows is shown without its user info.
 */

/** `scheme://user:password@`: the user info of a URL inside any text (up to the host). */
const USER_INFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@]*)@/gi;

/**
 * The secret parts of a URL's user info, as written and decoded: the password, and the whole
 * `user:password`. A user name alone (no password) is not a secret. Nothing for a text that is
 * not a URL or has no password.
 */
export function urlCredentials(url: string | undefined): string[] {
  if (!url) return [];
  const out = new Set<string>();
  for (const m of url.matchAll(USER_INFO)) {
    const info = m[2]!;
    const colon = info.indexOf(':');
    if (colon < 0) continue;
    const password = info.slice(colon + 1);
    if (password === '') continue;
    out.add(info);
    out.add(password);
    for (const v of [info, password]) {
      try {
        out.add(decodeURIComponent(v));
      } catch {
        // Not valid percent-encoding: the written form is what can show.
      }
    }
  }
  return [...out];
}

/** The text with the user info of every URL in it removed (`https://host/…`), for display. */
export function withoutUrlCredentials(text: string): string {
  return text.replace(USER_INFO, '$1');
}

/**
 * The API server's URL, checked before any connection; its own module so that reading the action's
 * inputs does not load the Kubernetes client.
 */
import { withoutUrlCredentials } from '../common/url-credentials.ts';

/**
 * `server` as messages show it: without the user info a URL may carry (`https://user:password@`,
 * or `user:password@` where the scheme is missing), at most 200 characters.
 */
export function shownServer(server: string): string {
  return withoutUrlCredentials(server)
    .replace(/^[^\s/@:]*(:[^\s/@]*)?@/, '')
    .slice(0, 200);
}

/**
 * Why the client cannot talk to `server`, or null: it must be an https:// URL (a host:port without
 * a scheme is one kubectl would take, but client-node does not); http:// only with TLS checks off,
 * as client-node refuses plain HTTP otherwise (`insecure-skip-tls-verify: true` in a kubeconfig).
 */
export function serverUrlProblem(server: string, skipTLSVerify: boolean): string | null {
  let scheme: string | null;
  try {
    scheme = new URL(server).protocol;
  } catch {
    scheme = null;
  }
  if (scheme === 'https:' || (scheme === 'http:' && skipTLSVerify)) return null;
  if (scheme === 'http:') return 'which is plain http://: the API server is reached over https:// only (give its https:// URL; plain HTTP needs insecure-skip-tls-verify: true in a kubeconfig, for a test cluster).';
  const hint = /^[a-z][a-z0-9+.-]*:\/\//i.test(server) ? '' : ` (write "https://${shownServer(server)}")`;
  return `which is not an https:// URL${hint}. Expected the API server's URL, e.g. https://203.0.113.10:6443.`;
}

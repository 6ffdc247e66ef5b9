/**
 * The one base of every error whose message is for the user: what was wrong, where, and what to
 * do. The entry points (src/action/main.ts, the CLI) print such a message as it is; anything else
 * that reaches them is a bug of ours and is reported as one ("internal error, please report it").
 */
export class UserError extends Error {
  override name = 'UserError';
}

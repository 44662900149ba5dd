/**
 * An error the user can cause and fix (bad file, bad setting, missing model). Its message says
 * what was wrong, where, and what to do; the UI and CLI show it without a stack trace.
 */
export class UserError extends Error {
  override readonly name = 'UserError';
}

export function isUserError(err: unknown): err is UserError {
  return err instanceof UserError || (err instanceof Error && err.name === 'UserError');
}

/** Thrown when an AbortSignal stops work; callers treat it as a normal, quiet end. */
export function isAbortError(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || (err as { code?: unknown }).code === 'ABORT_ERR');
}

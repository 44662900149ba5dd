/**
 * The checks every protocol file uses on untrusted messages (from webviews, the engine, files):
 * plain objects, their keys, ids that can name files, and an error's text. Declared once here.
 */

/**
 * Ids the store accepts (runs, batches, events, labeler files): letters, digits, `_ . -`, starting
 * with a letter or digit, at most 128 characters, no `..`. They name files and folders, so no id
 * can climb out of the project.
 */
export const SAFE_ID = /^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export const isSafeId = (v: unknown): v is string => typeof v === 'string' && SAFE_ID.test(v);

/** A plain object (not null, not an array). */
export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `o` has every key of `required` and no key outside `required` and `optional`. */
export function hasKeys(o: Record<string, unknown>, required: readonly string[], optional: readonly string[] = []): boolean {
  return required.every((k) => k in o) && Object.keys(o).every((k) => required.includes(k) || optional.includes(k));
}

/** An error's message, or the thrown value as text. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Ids and file names. Every id the store accepts matches `SAFE_ID`, so no id can climb out of
 * `.rlhf/` when it becomes part of a path (`runs/<id>/`). Labelers are free text (an email);
 * their file names are derived from them, never taken from them.
 */
import { SAFE_ID } from '../../protocol/guards';
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';

export const idSchema = z.string().regex(SAFE_ID, 'must be 1–128 letters, digits, _ . - (starting with a letter or digit, no ..)');

/** Stable across machines and runs: the same prompt text always gets the same id. */
export function promptIdFor(text: string): string {
  return 'p-' + createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 16);
}

function stamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15); // 20260101-120000
}

export function newBatchId(date = new Date()): string {
  return `b-${stamp(date)}-${randomBytes(4).toString('hex')}`;
}

export function completionIdFor(batchId: string, index: number): string {
  return `${batchId}.${index}`;
}

export function newEventId(): string {
  return `e-${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`;
}

export function newRunId(stage: string, date = new Date()): string {
  const safeStage =
    stage
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 24) || 'run';
  return `${stamp(date)}-${safeStage}-${randomBytes(3).toString('hex')}`;
}

/** A labeler as written in events: free text without control characters, 1–200 chars. */
export const labelerSchema = z
  .string()
  .min(1)
  .max(200)
  // eslint-disable-next-line no-control-regex
  .refine((s) => !/[\u0000-\u001f\u007f]/.test(s) && s.trim() === s, 'must have no control characters or surrounding spaces');

/**
 * The file stem for a labeler's log: `bot-1` stays `bot-1`; `Alice@Example.com` becomes
 * `alice_example.com-<8 hex>`. When the slug differs from the raw value, a hash of the raw value
 * keeps apart two labelers whose slugs collide (`a/b` vs `a_b`).
 */
export function labelerFileStem(labeler: string): string {
  const slug = labeler
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, '_')
    .replace(/\.{2,}/g, '_')
    .replace(/^[^a-z0-9]+/, '')
    .slice(0, 64);
  if (slug === labeler && SAFE_ID.test(slug)) return slug;
  const hash = createHash('sha256').update(labeler, 'utf8').digest('hex').slice(0, 8);
  return `${slug || 'labeler'}-${hash}`;
}

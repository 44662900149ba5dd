/**
 * Inline completions (ghost text in the editor) and the implicit preferences they yield. A
 * request samples n short continuations of the text before the cursor from the current policy;
 * the suggestion waits in memory until the host says what became of it. Only then is it
 * stored: the text as a prompt (source 'inline'), the continuations as a batch, and a rank event
 * with source 'implicit': the accepted one ranked above the others, or 'allBad' when it was
 * shown and not accepted. Implicit events never touch human rankings and are left out of
 * training unless project.json settings.includeImplicit is on (store/pairs.ts).
 */
import { UserError } from '../../core/errors';
import { contextLength } from '../../core/model/modelConfig';
import { newEventId } from '../../core/store/ids';
import { inlineRefusal } from '../../protocol/inlineScope';
import type { Project } from '../../core/store/project';
import { MAX_PROMPT_CHARS } from '../../core/store/schemas';
import { DEFAULT_SAMPLING } from '../../core/sample/types';
import type { ProjectRequests } from '../../protocol/engineProject';
import { currentPolicy } from './policy';
import { samplerFor } from './samplers';

type CompleteResult = ProjectRequests['inline.complete']['result'];

interface Suggestion {
  readonly workspace: string;
  readonly prompt: string;
  readonly completions: string[];
  readonly model: string;
  readonly checkpoint: string;
  readonly temperatures: number[];
  readonly maxNewTokens: number;
}

/** Suggestions not yet resolved, oldest first; the oldest are dropped beyond this many. */
const MAX_PENDING = 50;
const pending = new Map<string, Suggestion>();
const TEMPERATURES = [0.7, 1.0];

export async function completeInline(project: Project, file: string, text: string, n: number, maxNewTokens: number, signal: AbortSignal): Promise<CompleteResult> {
  const refused = inlineRefusal(file, project.paths.workspace);
  if (refused) throw new UserError(`inline.complete: ${refused}; inline completions run only in the workspace's own files.`);
  if (!Number.isInteger(n) || n < 2 || n > 4) throw new UserError(`inline.complete: n must be 2 to 4 (a preference needs two candidates), got ${n}.`);
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1 || maxNewTokens > 128) throw new UserError(`inline.complete: maxNewTokens must be 1 to 128, got ${maxNewTokens}.`);
  const policy = currentPolicy(project);
  const model = await samplerFor(policy.path);
  signal.throwIfAborted();
  // Keep the end of the text: the model's context holds n_positions tokens, prompt included.
  const room = Math.max(1, contextLength(model.config) - maxNewTokens);
  const ids = model.tokenizer.encode(text.slice(-MAX_PROMPT_CHARS)).slice(-room);
  const prompt = model.tokenizer.decode(ids);
  const temperatures = Array.from({ length: n }, (_, i) => TEMPERATURES[i % TEMPERATURES.length] as number);
  const completions: string[] = [];
  for (const [i, temperature] of temperatures.entries()) {
    const [c] = await model.sampler.sample(
      [ids],
      {
        ...DEFAULT_SAMPLING,
        temperature,
        topP: 0.95,
        maxNewTokens,
        eosTokenId: model.tokenizer.eosTokenId,
        stopTokenIds: model.tokenizer.stopTokenIds,
        stopStrings: ['\n'],
        seed: (Date.now() + i) % 1_000_000_007,
      },
      (t) => model.tokenizer.decode(t),
      signal,
    );
    completions.push(c?.text ?? '');
  }
  const id = newEventId();
  pending.set(id, { workspace: project.paths.workspace, prompt, completions, model: policy.path, checkpoint: policy.from, temperatures, maxNewTokens });
  while (pending.size > MAX_PENDING) pending.delete(pending.keys().next().value as string);
  return { id, completions, model: policy.path };
}

export async function recordInline(project: Project, id: string, accepted: number | null): Promise<{ eventId?: string }> {
  const s = pending.get(id);
  if (!s || s.workspace !== project.paths.workspace) throw new UserError(`inline.record: no pending inline suggestion '${id}' (already recorded, or the engine restarted).`);
  if (accepted !== null && (!Number.isInteger(accepted) || accepted < 0 || accepted >= s.completions.length)) {
    throw new UserError(`inline.record: accepted must be null or an index below ${s.completions.length}, got ${accepted}.`);
  }
  pending.delete(id);
  // An empty prefix is no prompt to learn from.
  if (s.prompt.trim() === '') return {};
  const { ids } = await project.prompts.add([s.prompt], 'inline');
  const batch = await project.completions.addBatch({
    promptId: ids[0] as string,
    model: { path: s.model, checkpoint: s.checkpoint },
    sampling: { temperature: s.temperatures[0] as number, topK: 0, topP: 0.95, maxNewTokens: s.maxNewTokens, stopStrings: ['\n'] },
    completions: s.completions.map((text, i) => ({ text, sampling: { temperature: s.temperatures[i] as number } })),
  });
  const event = await project.rankings.submit(
    accepted === null ? { batchId: batch.id, verdict: 'allBad' } : { batchId: batch.id, verdict: 'ranked', ranks: s.completions.map((_, i) => (i === accepted ? 1 : 2)) },
    { source: 'implicit' },
  );
  return { eventId: event.id };
}

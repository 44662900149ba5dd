/**
 * Generating completions for the ranking panel: K per prompt from the current policy at varied
 * temperatures (DEFAULT_GENERATE's), through the cached ORT sampler, stored as one batch per
 * prompt. The same recipe as core/sample/generate.ts, with the engine's cached sampler.
 *
 * Prompts longer than the context leaves room for are continued from their end (promptRoom), and
 * the result says how many. A selected text that cannot fit is refused before anything is
 * stored, and a selection becomes a prompt only once its completions are sampled.
 */
import { UserError } from '../../core/errors';
import { contextLength } from '../../core/model/modelConfig';
import { promptInputText } from '../../core/tokenizer/chat';
import { DEFAULT_GENERATE } from '../../core/sample/generate';
import type { GenerateConfig } from '../../core/sample/generate';
import { DEFAULT_SAMPLING, promptRoom } from '../../core/sample/types';
import { checkPromptText } from '../../core/store/prompts';
import type { Completion, SamplingOptions } from '../../core/sample/types';
import type { Project } from '../../core/store/project';
import type { PromptRecord } from '../../core/store/schemas';
import type { GenerateParams, ProjectRequests } from '../../protocol/engineProject';
import { currentPolicy } from './policy';
import { rankingQueue } from './queue';
import { samplerFor } from './samplers';

type GenerateResult = ProjectRequests['project.generate']['result'];

/** Prompts generated for by default: the oldest with no batch left to rank. */
export const DEFAULT_PROMPT_LIMIT = 8;

export async function generateForRanking(project: Project, params: GenerateParams, signal: AbortSignal, progress: (message: string, fraction?: number) => void): Promise<GenerateResult> {
  const k = params.k ?? DEFAULT_GENERATE.k;
  if (!Number.isInteger(k) || k < 2 || k > 16) throw new UserError(`Completions per prompt must be a whole number from 2 to 16, got ${k}.`);
  const maxNewTokens = params.maxNewTokens ?? DEFAULT_GENERATE.maxNewTokens;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1 || maxNewTokens > 1024) throw new UserError(`maxNewTokens must be from 1 to 1024, got ${maxNewTokens}.`);
  const selection = params.promptText;
  if (selection !== undefined) checkPromptText(selection, 'the selected text');
  const chosen = selection === undefined ? choosePrompts(project, params) : [];
  if (selection === undefined && chosen.length === 0) {
    throw new UserError(`Every prompt in ${project.paths.prompts} already has completions waiting to be ranked, or there are no prompts. Import prompts (RLHF: Import Prompts) or rank what is there.`);
  }
  const policy = currentPolicy(project);
  progress(`loading ${policy.path}`);
  const model = await samplerFor(policy.path);
  const context = contextLength(model.config);
  const room = promptRoom(context, maxNewTokens);
  // A chat prompt is the conversation through the model's template, as training reads it.
  const texts = selection === undefined ? chosen.map((p) => promptInputText(p, model.tokenizer)) : [promptInputText({ text: selection }, model.tokenizer)];
  const encoded = texts.map((t) => model.tokenizer.encode(t));
  if (selection !== undefined && (encoded[0] as number[]).length > room) {
    throw new UserError(
      `The selection is ${(encoded[0] as number[]).length} tokens; the model's context of ${context} holds ${room} prompt tokens with room for ${maxNewTokens} new ones. ` +
        'Select less text (the end of it is what the model continues). Nothing was stored.',
    );
  }
  const config: GenerateConfig = { ...DEFAULT_GENERATE, k, maxNewTokens, seed: Date.now() % 1_000_000 };
  const decode = (ids: readonly number[]): string => model.tokenizer.decode(ids);
  const started = performance.now();
  let tokens = 0;
  // perIndex[j][i]: completion j of prompt i, sampled at temperature j.
  const perIndex: { sampling: SamplingOptions; out: Completion[] }[] = [];
  for (let j = 0; j < k; j++) {
    signal.throwIfAborted();
    progress(`sampling ${j + 1} of ${k} for ${texts.length} prompt${texts.length === 1 ? '' : 's'}`, j / k);
    const sampling: SamplingOptions = {
      ...DEFAULT_SAMPLING,
      temperature: config.temperatures[j % config.temperatures.length] as number,
      topP: config.topP,
      maxNewTokens,
      eosTokenId: model.tokenizer.eosTokenId,
      stopTokenIds: model.tokenizer.stopTokenIds,
      stopStrings: config.stopStrings,
      seed: config.seed * 1000 + j,
    };
    const out = await model.sampler.sample(encoded, sampling, decode, signal);
    tokens += out.reduce((s, c) => s + c.tokens.length, 0);
    perIndex.push({ sampling, out });
  }
  signal.throwIfAborted();
  const prompts = selection === undefined ? chosen : await addSelection(project, selection);
  const first = perIndex[0]!.sampling;
  const batches = await project.completions.addBatches(
    prompts.map((p, i) => ({
      promptId: p.id,
      model: { path: policy.path, checkpoint: policy.from },
      sampling: { temperature: first.temperature, topK: first.topK, topP: first.topP, maxNewTokens, eosTokenId: first.eosTokenId, stopStrings: [...first.stopStrings] },
      seed: config.seed,
      completions: perIndex.map(({ sampling, out }) => {
        const c = out[i]!;
        return { text: c.text, tokens: [...c.tokens], logprobs: [...c.logprobs], finishReason: c.finishReason, sampling: { temperature: sampling.temperature } };
      }),
    })),
  );
  return {
    batchIds: batches.map((b) => b.id),
    promptIds: prompts.map((p) => p.id),
    tokens,
    seconds: (performance.now() - started) / 1000,
    provider: model.sampler.provider,
    model: policy.path,
    promptsCut: encoded.filter((ids) => ids.length > room).length,
    promptRoom: room,
  };
}

async function addSelection(project: Project, text: string): Promise<PromptRecord[]> {
  const { ids } = await project.prompts.add([text], 'selection', () => 'the selected text');
  const prompt = project.prompts.get(ids[0]!);
  if (!prompt) throw new Error(`the selected text was stored but ${project.paths.prompts} does not hold it`);
  return [prompt];
}

function choosePrompts(project: Project, params: GenerateParams): PromptRecord[] {
  const all = project.prompts.list();
  if (params.promptIds) {
    const byId = new Map(all.map((p) => [p.id, p]));
    return params.promptIds.map((id) => {
      const p = byId.get(id);
      if (!p) throw new UserError(`Prompt ${id} is not in ${project.paths.prompts}.`);
      return p;
    });
  }
  const limit = params.limit ?? DEFAULT_PROMPT_LIMIT;
  const waiting = new Set(rankingQueue(project).map((q) => q.batch.promptId));
  const sampled = new Set(project.completions.list().map((b) => b.promptId));
  // Prompts never sampled first, then those whose batches are all ranked; never the text
  // before a cursor that inline completions stored.
  const fresh = all.filter((p) => !sampled.has(p.id) && p.source !== 'inline');
  const again = all.filter((p) => sampled.has(p.id) && !waiting.has(p.id));
  return [...fresh, ...again].slice(0, limit);
}

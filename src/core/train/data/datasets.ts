/**
 * Where each stage's examples come from: a text corpus (pretraining), a prompt-completion JSONL
 * file (SFT), and the project's rankings (SFT on the best-ranked, the reward model, DPO). Every
 * input is validated; errors name the file and line.
 *
 * Prompts and completions become tokens through one function, encodeExample (tokenizer/chat.ts):
 * a chat prompt is rendered with the model's chat template and the completion is the assistant's
 * reply in it, ending with the template's end-of-turn token; a plain-text prompt is its text and
 * the completion ends with the EOS. The reward model thus scores the templated conversation.
 */
import * as fs from 'node:fs';
import { z } from 'zod';
import { UserError } from '../../errors';
import { readJsonl, where } from '../../store/jsonl';
import { derivePairs, trainingSources } from '../../store/pairs';
import type { PreferencePair } from '../../store/pairs';
import type { Project } from '../../store/project';
import type { LabelSource } from '../../store/schemas';
import type { Tokenizer } from '../../tokenizer/tokenizer';
import type { PromptLike } from '../../tokenizer/chat';
import { encodeExample, plainChatText } from '../../tokenizer/chat';
import { checkChatMessages } from '../../store/prompts';
import { mobyDickText } from '../../demo/corpus';
import type { RankedGroup, SftExample } from './batches';
import type { DpoPair } from '../stages/dpo';
import { splitHeldOut } from './batches';

export function corpusText(spec: string): string {
  if (spec === 'builtin:moby-dick') return mobyDickText();
  if (spec.startsWith('builtin:')) throw new UserError(`Unknown built-in corpus '${spec}': the one built in is builtin:moby-dick.`);
  if (!fs.existsSync(spec)) throw new UserError(`${spec}: corpus file not found.`);
  return fs.readFileSync(spec, 'utf8');
}

const sftLine = z.looseObject({
  prompt: z.union([z.string().max(100_000), z.array(z.unknown()).max(10_000)]),
  completion: z.union([z.string().min(1).max(200_000), z.tuple([z.looseObject({ role: z.literal('assistant'), content: z.string().min(1).max(200_000) })])]),
});

/**
 * TRL prompt-completion JSONL → examples: standard ({"prompt": "…", "completion": "…"}) or
 * conversational ({"prompt": [messages], "completion": [{"role": "assistant", "content": "…"}]}).
 * The completion ends with the end-of-turn token or EOS so the model learns to stop.
 */
export function loadSftJsonl(file: string, tokenizer: Tokenizer): SftExample[] {
  if (!fs.existsSync(file)) throw new UserError(`${file}: SFT data file not found.`);
  const read = readJsonl(file, sftLine);
  if (read.tail) throw new UserError(`${where(file, read.tail.line)}: ${read.tail.reason}.`);
  if (read.records.length === 0) throw new UserError(`${file}: no examples (expected JSON lines with "prompt" and "completion").`);
  return read.records.map(({ value, line }) => {
    const prompt: PromptLike = typeof value.prompt === 'string' ? { text: value.prompt } : chatPrompt(value.prompt, where(file, line));
    const completion = typeof value.completion === 'string' ? value.completion : value.completion[0].content;
    return encodeExample(prompt, completion, tokenizer);
  });
}

function chatPrompt(messages: unknown, at: string): PromptLike {
  const checked = checkChatMessages(messages, at);
  return { text: plainChatText(checked), messages: checked };
}

/** The stored prompt a pair belongs to (with its messages when it is a chat prompt). */
function promptOf(prompts: ReadonlyMap<string, PromptLike>, pair: PreferencePair): PromptLike {
  return prompts.get(pair.promptId) ?? { text: pair.prompt };
}

/** SFT data spec: the project's best-ranked completions instead of a file. */
export const BEST_RANKED = 'builtin:best-ranked';

/**
 * SFT examples from the project's rankings (training sources, as the reward model's): every
 * completion ranked first in a ranking that has pairs (ties at the top included), with its
 * prompt; completions end with EOS. What the labeler liked best is what the model imitates
 * first (best-of-n fine-tuning), so SFT can run before anyone writes demonstrations.
 */
export function bestRankedExamples(project: Project, tokenizer: Tokenizer, options: { includeSimulated?: boolean } = {}): SftExample[] {
  const simulated = options.includeSimulated ?? project.meta.settings.includeSimulated;
  const sources: LabelSource[] = ['human', 'imported', ...(simulated ? (['simulated'] as const) : [])];
  const byEvent = new Map<string, PreferencePair[]>();
  for (const p of derivePairs(project, { sources })) byEvent.set(p.eventId, [...(byEvent.get(p.eventId) ?? []), p]);
  const prompts = project.prompts.byId();
  const examples: SftExample[] = [];
  for (const pairs of byEvent.values()) {
    const beaten = new Set(pairs.map((p) => p.rejectedId));
    const best = new Map(pairs.filter((p) => !beaten.has(p.chosenId)).map((p) => [p.chosenId, p.chosen]));
    const prompt = promptOf(prompts, pairs[0] as PreferencePair);
    for (const text of best.values()) examples.push(encodeExample(prompt, text, tokenizer));
  }
  if (examples.length === 0) {
    throw new UserError(
      `sft: no ranked completions in ${project.paths.dir} to learn from yet (rank some; ties, skips and all-bad give none), or write prompt/completion pairs to a JSONL file and set "data" to it.`,
    );
  }
  return examples;
}

export interface RewardGroups {
  readonly train: RankedGroup[];
  readonly eval: RankedGroup[];
  readonly pairs: number;
  readonly prompts: number;
}

/**
 * The reward model reads its score at the last token; ending every sequence with EOS makes that
 * one fixed token whose attention pools the whole text, instead of whatever byte came last.
 * The PPO scorer appends it the same way (rollout/samplers.ts).
 */
export function withEos(ids: readonly number[], eos: number | null): number[] {
  return eos === null || ids[ids.length - 1] === eos ? [...ids] : [...ids, eos];
}

/**
 * One group per ranking in force (all its pairs together), tokenized with the model's
 * tokenizer; held-out groups are chosen by prompt, so a prompt is never on both sides.
 */
export function rankedGroups(project: Project, tokenizer: Tokenizer, options: { includeSimulated?: boolean; evalFraction: number; seed: number }): RewardGroups {
  const sources: LabelSource[] = ['human', 'imported', ...((options.includeSimulated ?? project.meta.settings.includeSimulated) ? (['simulated'] as const) : [])];
  const pairs = derivePairs(project, { sources });
  const byEvent = new Map<string, PreferencePair[]>();
  for (const p of pairs) byEvent.set(p.eventId, [...(byEvent.get(p.eventId) ?? []), p]);
  const prompts = project.prompts.byId();
  const groups: (RankedGroup & { promptId: string })[] = [];
  for (const ps of byEvent.values()) {
    const first = ps[0] as PreferencePair;
    const ids: string[] = [];
    const texts = new Map<string, string>();
    for (const p of ps) {
      texts.set(p.chosenId, p.chosen).set(p.rejectedId, p.rejected);
    }
    for (const id of texts.keys()) ids.push(id);
    const index = new Map(ids.map((id, i) => [id, i]));
    const prompt = promptOf(prompts, first);
    const encoded = ids.map((id) => encodeExample(prompt, texts.get(id) as string, tokenizer));
    groups.push({
      promptId: first.promptId,
      prompt: encoded[0]?.prompt ?? [],
      completions: encoded.map((e) => withEos(e.response, tokenizer.eosTokenId)),
      pairs: ps.map((p) => [index.get(p.chosenId) as number, index.get(p.rejectedId) as number] as const),
    });
  }
  const promptIds = [...new Set(groups.map((g) => g.promptId))];
  const { eval: heldPrompts } = splitHeldOut(promptIds, options.evalFraction, options.seed);
  const held = new Set(heldPrompts);
  return {
    train: groups.filter((g) => !held.has(g.promptId)),
    eval: groups.filter((g) => held.has(g.promptId)),
    pairs: pairs.length,
    prompts: promptIds.length,
  };
}

export interface DpoPairs {
  readonly train: DpoPair[];
  readonly eval: DpoPair[];
  readonly prompts: number;
}

/**
 * One DPO pair per preference pair in force (the project's training sources; `includeSimulated`
 * overrides its setting), tokenized with the model's tokenizer. Completions end with EOS, as in
 * SFT and TRL, so the preference covers where to stop. Held-out pairs are chosen by prompt.
 */
export function preferencePairs(project: Project, tokenizer: Tokenizer, options: { includeSimulated?: boolean; evalFraction: number; seed: number }): DpoPairs {
  const defaults = trainingSources(project.meta).filter((s) => s !== 'simulated');
  const simulated = options.includeSimulated ?? project.meta.settings.includeSimulated;
  const sources: LabelSource[] = [...defaults, ...(simulated ? (['simulated'] as const) : [])];
  const prompts = project.prompts.byId();
  const pairs = derivePairs(project, { sources }).map((p) => {
    const chosen = encodeExample(promptOf(prompts, p), p.chosen, tokenizer);
    return { promptId: p.promptId, prompt: chosen.prompt, chosen: chosen.response, rejected: encodeExample(promptOf(prompts, p), p.rejected, tokenizer).response };
  });
  const promptIds = [...new Set(pairs.map((p) => p.promptId))];
  const held = new Set(splitHeldOut(promptIds, options.evalFraction, options.seed).eval);
  const strip = ({ prompt, chosen, rejected }: DpoPair): DpoPair => ({ prompt, chosen, rejected });
  return {
    train: pairs.filter((p) => !held.has(p.promptId)).map(strip),
    eval: pairs.filter((p) => held.has(p.promptId)).map(strip),
    prompts: promptIds.length,
  };
}

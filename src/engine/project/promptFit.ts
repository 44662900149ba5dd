/**
 * Whether prompts fit the current policy's context: its n_positions less the room completions
 * for ranking take (DEFAULT_GENERATE.maxNewTokens). Read from the model folder's config.json and
 * tokenizer.json only (no weights), so importing prompts stays quick.
 */
import { loadModelConfig } from '../../core/model/checkpoint';
import { contextLength } from '../../core/model/modelConfig';
import { DEFAULT_GENERATE } from '../../core/sample/generate';
import { promptRoom } from '../../core/sample/types';
import type { Project } from '../../core/store/project';
import { loadTokenizer } from '../../core/tokenizer/tokenizer';
import { projectModels } from './policy';
import { promptInputText } from '../../core/tokenizer/chat';
import type { PromptLike } from '../../core/tokenizer/chat';

export interface PromptFit {
  /** Prompt tokens the context holds beside a completion of the default length. */
  readonly room: number;
  readonly nPositions: number;
  /** Token count of a prompt as the policy reads it (a chat prompt through its template). */
  readonly length: (prompt: PromptLike) => number;
}

/** The current policy's fit, or undefined when the project has no policy yet (nothing to check against). */
export function promptFit(project: Project): PromptFit | undefined {
  const policy = projectModels(project).policy;
  if (!policy) return undefined;
  const config = loadModelConfig(policy.path);
  const tokenizer = loadTokenizer(policy.path);
  return { room: promptRoom(contextLength(config), DEFAULT_GENERATE.maxNewTokens), nPositions: contextLength(config), length: (prompt) => tokenizer.encode(promptInputText(prompt, tokenizer)).length };
}

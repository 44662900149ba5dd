/**
 * What a model reads for a project prompt, and what the training stages train on: one place, so
 * sampling, SFT, the reward model and the policy stages see a prompt the same way.
 *
 * A prompt is plain text or chat messages (see src/protocol/chat.ts):
 * - plain text is a text to continue: the model reads the text itself (after a BOS when the
 *   tokenizer adds one; see the BOS rule in tokenizer.ts), whether or not the model has a chat
 *   template. To talk to an instruct model, store the prompt as messages.
 * - chat messages are rendered with the model's chat template, ending with the opening of the
 *   assistant's turn (add_generation_prompt). A model without a chat template (GPT-2, the
 *   byte-level default) reads a plain transcript instead, one `role: content` line per message
 *   and a last `assistant:` line: "system: Be brief.\nuser: Hi\nassistant:".
 *
 * Training text is the prompt's input text followed by the completion: for a templated chat, the
 * template's rendering of the conversation with the completion as the assistant's reply, which
 * starts with the prompt's input text (checked; a template that renders the earlier turns
 * differently once a reply follows gets the reply appended to the prompt text instead), so the
 * prompt's tokens are exactly the tokens sampling starts from.
 */
import type { ChatMessage } from '../../protocol/chat';
import type { Tokenizer } from './tokenizer';

/** A stored prompt as far as rendering goes: its text, and its messages when it is a chat prompt. */
export interface PromptLike {
  readonly text: string;
  readonly messages?: readonly ChatMessage[];
}

/**
 * Template variables the project renders every chat with: reasoning models (Qwen3, SmolLM3) answer
 * directly, without a thinking trace, so completions are answers to rank and fit the token budget.
 * Templates that do not use them ignore them.
 */
export const CHAT_VARIABLES: Readonly<Record<string, unknown>> = { enable_thinking: false };

/** A chat prompt as plain text for a model without a chat template: "role: content" lines, then "assistant:". */
export function plainChatText(messages: readonly ChatMessage[]): string {
  return [...messages.map((m) => `${m.role}: ${m.content}`), 'assistant:'].join('\n');
}

/** A plain-text prompt with the BOS in front when the tokenizer adds one and the text lacks it. */
function withBos(text: string, tokenizer: Tokenizer): string {
  if (!tokenizer.addBosToken || tokenizer.bosTokenId === null) return text;
  const bos = tokenizer.decode([tokenizer.bosTokenId]);
  return text.startsWith(bos) ? text : bos + text;
}

/** The text the model reads for a prompt (what sampling encodes, and what training's prompt tokens are). */
export function promptInputText(prompt: PromptLike, tokenizer: Tokenizer): string {
  if (prompt.messages === undefined) return withBos(prompt.text, tokenizer);
  if (tokenizer.chatTemplate === null) return withBos(plainChatText(prompt.messages), tokenizer);
  return tokenizer.applyChatTemplate(prompt.messages, { addGenerationPrompt: true, variables: CHAT_VARIABLES });
}

export interface TrainingText {
  /** The prompt's input text (promptInputText). */
  readonly prompt: string;
  /** The whole text trained on; starts with `prompt`. */
  readonly text: string;
  /** Whether the chat template wrote the reply's end (its end-of-turn token and what follows). */
  readonly templated: boolean;
}

/** The text SFT, the reward model and DPO train on for a prompt and its completion. */
export function trainingText(prompt: PromptLike, completion: string, tokenizer: Tokenizer): TrainingText {
  const input = promptInputText(prompt, tokenizer);
  if (prompt.messages !== undefined && tokenizer.chatTemplate !== null) {
    const full = tokenizer.applyChatTemplate([...prompt.messages, { role: 'assistant', content: completion }], { addGenerationPrompt: false, variables: CHAT_VARIABLES });
    if (full.startsWith(input) && full.length > input.length) return { prompt: input, text: full, templated: true };
  }
  return { prompt: input, text: input + completion, templated: false };
}

export interface EncodedExample {
  readonly prompt: number[];
  /** The reply's tokens, ending with a stop token (the template's end of turn, else the EOS) when the tokenizer has one. */
  readonly response: number[];
}

/**
 * Prompt and completion as token ids: the prompt's input text encoded alone (as sampling encodes
 * it), then the rest of the training text encoded alone, so the prompt tokens are a prefix by
 * construction. A templated reply is cut after its first stop token (what the template writes
 * after it, such as ChatML's newline or the next turn's header, is never sampled); a reply without
 * one ends with the EOS, as before chat templates.
 */
export function encodeExample(prompt: PromptLike, completion: string, tokenizer: Tokenizer): EncodedExample {
  const t = trainingText(prompt, completion, tokenizer);
  const rest = tokenizer.encode(t.text.slice(t.prompt.length));
  const stops = new Set(tokenizer.stopTokenIds);
  const end = t.templated ? rest.findIndex((id) => stops.has(id)) : -1;
  const response = end >= 0 ? rest.slice(0, end + 1) : tokenizer.eosTokenId === null ? rest : [...rest, tokenizer.eosTokenId];
  return { prompt: tokenizer.encode(t.prompt), response };
}

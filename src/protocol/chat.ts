/**
 * A chat prompt's messages, as the store keeps them and the ranking panel shows them: a system
 * message (optional, first), then user and assistant turns, ending with the user's. Declared
 * once here, since the webview shows them and the core renders them with a model's chat template.
 */

export const CHAT_ROLES = ['system', 'user', 'assistant'] as const;
export type ChatRole = (typeof CHAT_ROLES)[number];

export interface ChatMessage {
  readonly role: ChatRole;
  readonly content: string;
}

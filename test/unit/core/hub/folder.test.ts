/** inspectModelFolder: architecture and size of a folder on disk, and why the workbench cannot load it when it cannot. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inspectModelFolder } from '../../../../src/core/hub/folder';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-model-folder-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('the shipped tiny model is a supported GPT-2 folder with its size', () => {
  const info = inspectModelFolder(path.resolve('models/tiny-default'));
  assert.equal(info.modelType, 'gpt2');
  assert.deepEqual(info.architectures, ['GPT2LMHeadModel']);
  assert.equal(info.supported, true);
  assert.ok(info.sizeBytes > 1_000_000 && info.files >= 3);
});

test('a folder without config.json is refused; another architecture or missing weights are described with the reason', () => {
  assert.throws(() => inspectModelFolder(dir), /has no config\.json, so it is not a Hugging Face model folder/);
  assert.throws(() => inspectModelFolder(path.join(dir, 'nope')), /is not a folder/);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'llama', architectures: ['LlamaForCausalLM'] }));
  fs.writeFileSync(path.join(dir, 'model.safetensors'), Buffer.alloc(10));
  const llama = inspectModelFolder(dir);
  assert.equal(llama.supported, false);
  assert.deepEqual([llama.modelType, llama.architectures, llama.sizeBytes, llama.files], ['llama', ['LlamaForCausalLM'], 10 + fs.statSync(path.join(dir, 'config.json')).size, 2]);
  // A Llama folder is one the workbench runs: what it lacks here is the tokenizer.
  assert.match(llama.problem ?? '', /has no tokenizer\.json/);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'mistral', architectures: ['MistralForCausalLM'] }));
  const mistral = inspectModelFolder(dir);
  assert.equal(mistral.supported, false);
  assert.match(mistral.problem ?? '', /architecture MistralForCausalLM is not supported\. Supported: .*Qwen3ForCausalLM/);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'gpt2' }));
  fs.rmSync(path.join(dir, 'model.safetensors'));
  assert.match(inspectModelFolder(dir).problem ?? '', /no model\.safetensors/);
  fs.writeFileSync(path.join(dir, 'config.json'), '{');
  assert.throws(() => inspectModelFolder(dir), /is not valid JSON/);
});

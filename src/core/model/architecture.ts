/**
 * Which model family a config.json describes: GPT-2 (hfConfig.ts's parseConfig) or the Llama
 * family (llamaConfig.ts), read from `architectures` (else `model_type`). Anything else is refused
 * with its name and the list of what runs.
 */
import { UserError } from '../errors';
import type { GPT2Config } from './config';
import { parseConfig } from './hfConfig';
import type { LlamaConfig } from './llamaConfig';
import { LLAMA_CLASSES, parseLlamaConfig } from './llamaConfig';

/** The head a folder's class puts on the transformer: the LM head, or a scalar score (a reward model). */
export type ArchitectureHead = 'lm' | 'reward';

export type FamilyConfig =
  | { readonly family: 'gpt2'; readonly architecture: string; readonly head: ArchitectureHead; readonly config: GPT2Config }
  | { readonly family: 'llama'; readonly architecture: string; readonly head: ArchitectureHead; readonly config: LlamaConfig };

const GPT2_CLASSES = ['GPT2LMHeadModel', 'GPT2ForSequenceClassification'];
/** Every transformers class this project loads. */
export const SUPPORTED_ARCHITECTURES: readonly string[] = [...GPT2_CLASSES, ...Object.keys(LLAMA_CLASSES)];
const LLAMA_MODEL_TYPES = ['llama', 'qwen2', 'qwen3'];

/** Parse config.json as whichever supported family it names. */
export function parseModelConfig(raw: Record<string, unknown>, file: string): FamilyConfig {
  const archs = Array.isArray(raw.architectures) ? raw.architectures.filter((a): a is string => typeof a === 'string') : [];
  const known = archs.find((a) => SUPPORTED_ARCHITECTURES.includes(a));
  const modelType = typeof raw.model_type === 'string' ? raw.model_type : undefined;
  const named = known ?? archs[0];
  // A GPT-2 folder loads as it always has, whatever class it names (GPT2Model, GPT2DoubleHeadsModel, …).
  const gpt2Type = modelType === 'gpt2' && !(known && known in LLAMA_CLASSES);
  if (!known && !gpt2Type && (archs.length > 0 || (modelType !== 'gpt2' && !LLAMA_MODEL_TYPES.includes(modelType ?? '')))) {
    const what = named ? `architecture ${named} is` : modelType ? `model_type ${JSON.stringify(modelType)} is` : 'names no architecture (no "architectures" or "model_type"), which is';
    throw new UserError(`${file}: ${what} not supported. Supported: ${SUPPORTED_ARCHITECTURES.join(', ')}.`);
  }
  const architecture = named ?? modelType ?? '';
  const head: ArchitectureHead = architecture.endsWith('ForSequenceClassification') ? 'reward' : 'lm';
  if (head === 'reward') {
    const labels = raw.id2label && typeof raw.id2label === 'object' ? Object.keys(raw.id2label).length : (raw.num_labels ?? 1);
    if (labels !== 1) throw new UserError(`${file}: ${architecture} has ${labels} labels; a reward model has one (num_labels 1).`);
  }
  if (GPT2_CLASSES.includes(architecture) || gpt2Type) {
    // parseConfig reads model_type; an architectures-only GPT-2 config is still GPT-2.
    return { family: 'gpt2', architecture, head, config: parseConfig({ ...raw, model_type: 'gpt2' }, file) };
  }
  return { family: 'llama', architecture, head, config: parseLlamaConfig(raw, file) };
}

/**
 * DPO on ONNX Runtime (stages/dpo.ts): the policy's training graph and its loss-only twin, over
 * the model's parameters, and the frozen reference's scoring graph, over fixed weights. Both score
 * a batch the same way: GPT-2 over right-padded rows (positions 0..T−1, causal attention, no
 * attention mask, as the tfjs path), then the log-prob of each completion token, summed per row.
 *
 *   inputs   input_ids [S, T] int64: S = 2B rows, 0..B−1 prompt+chosen, B..2B−1 prompt+rejected
 *            (dpo.ts's dpoBatch layout, right padded);
 *            rows [S, L] int64: for row s, the flat index s·T + t of each hidden state that scores
 *            a completion token (t scores token t+1), L the most any row has (padded with 0);
 *            targets [S, L] int64: the token each of those scores (ids[s, t+1]; padding 0);
 *            completion_mask [S, L] float: 1 at real entries, 0 at padding.
 *   training also: reference_logps [S] float (the reference's summed completion log-probs, same
 *            order), chosen_index [B] / rejected_index [B] int64 (0..B−1 and B..2B−1).
 *   outputs  training: loss [], chosen, rejected, accuracy, margin (means over pairs: TRL's
 *            rewards/*), and with gradients grad_norm and grad.<name>;
 *            reference: logps [S].
 *
 * Only completion positions go through the tied head ([S·L, V] logits, not [S·T, V]).
 */
import type { ModelConfig } from '../model/modelConfig';
import { familyOf, layerCount, modelParameterShapes, modelWidth } from '../model/modelConfig';
import type { NamedTensor } from '../model/safetensors';
import type { TrainerGraphs } from '../train/ort/trainer';
import type { Tape } from './autodiff';
import { familyModelGraph } from './modelGraphs';
import type { ParamOptions } from './lora';

export interface DpoLossSettings {
  /** β: the implicit reward's scale. */
  readonly beta: number;
  /** ε: conservative DPO's label smoothing, in [0, 0.5). */
  readonly labelSmoothing: number;
}

/** Summed completion log-probs per row [S] from the hidden states [S, T, C] (declares the scoring inputs). */
function completionLogProbs(t: Tape, config: ModelConfig, hidden: string, wte: string): string {
  const g = t.g;
  const C = modelWidth(config);
  const rows = g.input('rows', 'int64', ['seqs', 'scored']);
  const targets = g.input('targets', 'int64', ['seqs', 'scored']);
  const mask = g.input('completion_mask', 'float', ['seqs', 'scored']);
  const picked = t.reshape(t.gather(t.reshape(hidden, [-1, C]), rows, C), [-1, C]); // [S·L, C]
  const { logp } = t.tokenLogProbs(picked, wte, g.op('Reshape', [targets, g.int64Const([-1])]), 1); // [S·L]
  return t.rowSum(t.mul(t.reshapeLike(logp, mask), mask)); // [S]
}

/** The DPO training graph (`gradients`: loss, statistics and gradients) or the loss alone (evaluation). */
function buildDpoGraph(config: ModelConfig, settings: DpoLossSettings, gradients: boolean, params: ParamOptions = {}): Uint8Array {
  const { t, p, hidden, lmHead, gradients: withGradients } = familyModelGraph(config, ['seqs', 'seq'], params);
  const g = t.g;
  const policy = completionLogProbs(t, config, hidden, p(lmHead));
  const reference = g.input('reference_logps', 'float', ['seqs']);
  const chosenIndex = g.input('chosen_index', 'int64', ['pairs']);
  const rejectedIndex = g.input('rejected_index', 'int64', ['pairs']);
  const ratio = t.scale(t.sub(policy, reference), settings.beta); // β(log π − log π_ref), [S]
  const chosen = t.pick(ratio, chosenIndex); // [B]
  const rejected = t.pick(ratio, rejectedIndex);
  const z = t.sub(chosen, rejected); // βΔ
  const eps = settings.labelSmoothing;
  // −(1−ε)·log σ(z) − ε·log σ(−z)
  let perPair = t.scale(t.logSigmoid(z), -(1 - eps));
  if (eps > 0) perPair = t.add(perPair, t.scale(t.logSigmoid(t.scale(z, -1)), -eps));
  const loss = t.meanAll(perPair);
  const mean = (x: string): string => g.op('ReduceMean', [x], { keepdims: 0 });
  g.output(loss, 'loss', 'float', []);
  g.output(mean(chosen), 'chosen', 'float', []);
  g.output(mean(rejected), 'rejected', 'float', []);
  g.output(mean(g.op('Cast', [g.op('Greater', [chosen, rejected])], { to: 1 })), 'accuracy', 'float', []);
  g.output(mean(z), 'margin', 'float', []);
  if (gradients) withGradients(loss);
  const what = `${familyOf(config)} DPO loss${gradients ? ' and gradients' : ''} (β ${settings.beta}, ε ${eps}; ${layerCount(config)} layers, width ${modelWidth(config)})`;
  return g.model(gradients ? `${familyOf(config)}_dpo_train` : `${familyOf(config)}_dpo_loss`, what);
}

/** The trainer's graphs for DPO: `train` (loss, statistics, gradients) and `loss` (the same without gradients). */
export function buildDpoGraphs(config: ModelConfig, settings: DpoLossSettings): TrainerGraphs {
  return {
    shapes: modelParameterShapes(config),
    build: { train: (params) => buildDpoGraph(config, settings, true, params), loss: (params) => buildDpoGraph(config, settings, false, params) },
  };
}

/** The frozen reference's summed completion log-probs, `logps` [S], its weights as initializers. */
export function buildSequenceLogProbsGraph(config: ModelConfig, weights: ReadonlyMap<string, NamedTensor>): Uint8Array {
  const { t, p, hidden, lmHead } = familyModelGraph(config, ['seqs', 'seq'], { weights });
  t.g.output(completionLogProbs(t, config, hidden, p(lmHead)), 'logps', 'float', ['seqs']);
  return t.g.model(`${familyOf(config)}_dpo_reference`, `${familyOf(config)} summed completion log-probs (${layerCount(config)} layers, width ${modelWidth(config)}), fixed weights`);
}

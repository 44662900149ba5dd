/**
 * The tfjs engine (engine.ts imports this module only when it is chosen: `--engine tfjs`, an
 * explicit rlhf.engine.backend): AdamW over the model's tfjs variables, one optimisation step by
 * tf.variableGrads, and checkpoints read back from the variables. The stages' tfjs losses are
 * beside it in this folder.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { StageName } from '../../../protocol/stages';
import type { StageEngine, TfjsLoss } from '../engine';
import { weightsOf } from '../model';
import { AdamW } from '../optim';
import type { Optimizer } from '../optim';
import { NonFiniteError } from '../stage';
import type { StepResult, TrainModel } from '../stage';

/**
 * The tfjs engine over `model`: the tfjs AdamW handed in (tests), or one restored from the state
 * the runner loaded (a fresh or resumed run), disposed on release.
 */
export async function tfjsStageEngine(stage: StageName, model: TrainModel, optimizer: Optimizer): Promise<StageEngine> {
  let adam: AdamW;
  let owned = false;
  if (optimizer instanceof AdamW) adam = optimizer;
  else {
    adam = new AdamW(tf, optimizer.config);
    const { step, slots } = await optimizer.state();
    adam.restore(step, slots);
    optimizer.dispose();
    owned = true;
  }
  return {
    name: 'tfjs',
    get step() {
      return adam.step;
    },
    ortStep: () => Promise.reject(new Error('ortStep on the tfjs engine')),
    tfjsStep: (loss) => optimStep(stage, model, adam, loss),
    snapshot: () => ({ weights: weightsOf(model), optimizer: adam.stateSync() }),
    release: async () => {
      if (owned) adam.dispose();
    },
  };
}

/**
 * One optimisation step: loss and gradients for the trainable params, the NaN guard, AdamW.
 * `lossFn` returns the scalar loss and may return extra scalars (accuracies, margins) that are
 * computed in the same pass; they are read back as numbers.
 */
export function optimStep(stage: StageName, model: TrainModel, optimizer: AdamW, lossFn: TfjsLoss): StepResult {
  const vars = Object.values(model.params).filter((v) => v.trainable);
  const byVarName = new Map(Object.entries(model.params).map(([name, v]) => [v.name, name]));
  const extras: Record<string, tf.Scalar> = {};
  const { value, grads } = tf.variableGrads(() => {
    const out = lossFn();
    for (const [k, t] of Object.entries(out.extras ?? {})) extras[k] = tf.keep(t);
    return out.loss;
  }, vars);
  try {
    const loss = value.dataSync()[0] as number;
    const step = optimizer.step + 1;
    if (!Number.isFinite(loss)) throw new NonFiniteError(stage, step, 'the loss');
    const named: Record<string, tf.Tensor> = {};
    for (const [varName, g] of Object.entries(grads)) {
      const name = byVarName.get(varName);
      if (name) named[name] = g;
    }
    const { lr, gradNorm } = optimizer.apply(model.params, named);
    if (!Number.isFinite(gradNorm)) throw new NonFiniteError(stage, step, 'the gradient norm');
    const extraValues: Record<string, number> = {};
    for (const [k, t] of Object.entries(extras)) extraValues[k] = t.dataSync()[0] as number;
    return { loss, lr, gradNorm, extras: extraValues };
  } finally {
    tf.dispose([value, ...Object.values(grads), ...Object.values(extras)]);
  }
}

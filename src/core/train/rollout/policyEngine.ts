/**
 * What PPO and RLOO train through, on either engine: the stage engine (engine.ts) over the policy
 * graphs, the rollout's scoring passes, the policy's LM weights for the sampler's refresh, and
 * checkpoint events carrying the engine's snapshot. On ONNX Runtime the engine takes the policy's,
 * the reference's and (ortPolicy.ts) the reward model's weights over: read them through
 * `weights()`, never from the models. The tfjs engine's scoring is tfjs/rollout.ts, loaded only there.
 */
import type { StageName } from '../../../protocol/stages';
import type { Weights } from '../../model/checkpoint';
import type { PolicyGraphs } from '../../onnx/policyGraphs';
import { stageEngine } from '../engine';
import type { StageEngine } from '../engine';
import type { Optimizer } from '../optim';
import type { StageEvent, TrainModel } from '../stage';
import { ortRolloutScoring } from './ortPolicy';
import type { RolloutScoring } from './rollout';
import { lmWeights } from './samplers';
import { mergedView } from '../loraRun';
import { modelParameterShapes } from '../../model/modelConfig';

export interface PolicyEngine {
  readonly engine: StageEngine;
  readonly scoring: RolloutScoring;
  /** The policy's LM weights now (no value head): views of the trainer's buffers on ONNX Runtime (LoRA: the base and the merged buffers). */
  weights(): Promise<Weights>;
  /** A checkpoint event at `step`, with the engine's snapshot. */
  checkpoint(step: number, reason: 'interval' | 'final' | 'cancel', state?: unknown): StageEvent;
  release(): Promise<void>;
}

/** `reference` may be absent on ONNX Runtime (GRPO with β = 0): then there is no reference pass to ask for. */
export async function policyEngine(stage: StageName, policy: TrainModel, reference: TrainModel | undefined, optimizer: Optimizer, graphs: PolicyGraphs, temperature: number): Promise<PolicyEngine> {
  const engine = await stageEngine(stage, policy, optimizer, graphs);
  const trainer = engine.trainer;
  let scoring: RolloutScoring & { release?: () => Promise<void> };
  try {
    if (!trainer && !reference) throw new Error(`${stage}: the tfjs engine's rollout needs a reference model`);
    scoring = trainer ? await ortRolloutScoring(trainer, reference, temperature) : (await import('../tfjs/rollout')).tfjsRolloutScoring(policy, reference as TrainModel, temperature);
  } catch (err) {
    await engine.release();
    throw err;
  }
  const lmNames = [...modelParameterShapes(policy.config).keys()];
  // LoRA: the sampler reads the base and the adapted weights merged into buffers kept for the run.
  const merged = trainer?.lora ? mergedView(trainer.lora) : undefined;
  return {
    engine,
    scoring,
    weights: async () => {
      if (!trainer) return lmWeights(policy);
      // LoRA: the base with the adapter merged into the run's buffers (rewritten in place), for the sampler.
      if (merged) return merged.weights(trainer.params);
      return new Map(
        lmNames.map((name) => {
          const p = trainer.params.get(name);
          if (!p) throw new Error(`${stage}: the trainer has no parameter '${name}'`);
          return [name, { shape: [...p.shape], data: p.data }];
        }),
      );
    },
    checkpoint: (step, reason, state) => {
      const snapshot = engine.snapshot();
      return { type: 'checkpoint', step, reason, ...(state === undefined ? {} : { state }), ...(snapshot ? { snapshot } : {}) };
    },
    release: async () => {
      await merged?.release();
      await scoring.release?.();
      await engine.release();
    },
  };
}

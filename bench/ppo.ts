/**
 * `npm run bench:ppo`: the time of one PPO iteration, split into rollout (ORT KV-cache
 * sampling), scoring (policy and reference log-probs, values, reward model) and update (GAE and
 * the clipped PPO epochs on tfjs), with tokens/s — next to the same iteration in PyTorch when
 * python3 + torch are present (bench/torch_ppo.py), as ratios. Not a test.
 *
 * Usage: npm run bench:ppo [-- --iterations N] [-- --backend wasm|cpu]
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initCompute } from '../src/core/compute/backend';
import { TINY_CONFIG } from '../src/core/model/config';
import { initParams } from '../src/core/model/gpt2';
import { initHead } from '../src/core/model/heads';
import { byteLevelTokenizerJson } from '../src/core/tokenizer/byteLevel';
import { tokenizerFromJson } from '../src/core/tokenizer/tokenizer';
import { AdamW } from '../src/core/train/optim';
import { DEFAULT_PPO, ppo } from '../src/core/train/stages/ppo';
import { ortRolloutSampler, rewardModelScorer } from '../src/core/train/rollout/samplers';

const SHAPE = { rollout: 32, promptLen: 8, newTokens: 32, epochs: 2, minibatches: 4 };

interface Phases {
  readonly rollout: number;
  readonly scoring: number;
  readonly update: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function benchTs(iterations: number, backend: 'wasm' | 'cpu'): Promise<Phases & { tokS: number; backend: string }> {
  const { report } = await initCompute(backend);
  const config = TINY_CONFIG;
  const tokenizer = tokenizerFromJson(byteLevelTokenizerJson(), 'byte-level');
  const policy = { config, params: { ...initParams(config, 1), ...initHead(config, 'value', 1) } };
  const reference = { config, params: initParams(config, 1) };
  const rm = { config, params: { ...initParams(config, 2), ...initHead(config, 'reward', 2) } };
  const decode = (ids: readonly number[]): string => tokenizer.decode(ids);
  const sampler = await ortRolloutSampler(policy, decode);
  // Prompts of exactly promptLen bytes, as the PyTorch side uses.
  const prompts = Array.from({ length: SHAPE.rollout }, (_, i) => `prompt ${String(i).padStart(2, '0')}`.slice(0, SHAPE.promptLen)).map((text) => ({ text, ids: tokenizer.encode(text) }));
  const ppoConfig = {
    ...DEFAULT_PPO,
    iterations,
    rolloutBatch: SHAPE.rollout,
    miniBatches: SHAPE.minibatches,
    ppoEpochs: SHAPE.epochs,
    maxNewTokens: SHAPE.newTokens,
    sampleEvery: 0,
    checkpointEvery: 0,
  };
  const optimizer = new AdamW(tf, ppoConfig.optim);
  const rows: { rollout: number; scoring: number; update: number; tokS: number }[] = [];
  // No EOS: every response is exactly newTokens long, as in the PyTorch loop.
  for await (const e of ppo(policy, reference, optimizer, sampler, rewardModelScorer(rm, 256), { prompts, decode, eos: null, pad: 256 }, ppoConfig)) {
    if (e.type !== 'metrics') continue;
    const v = e.record.values;
    rows.push({ rollout: v['time/rollout'] as number, scoring: v['time/scoring'] as number, update: v['time/update'] as number, tokS: v.tokens_per_second as number });
    console.log(`  iteration ${e.record.step}: rollout ${v['time/rollout']?.toFixed(2)} s, scoring ${v['time/scoring']?.toFixed(2)} s, update ${v['time/update']?.toFixed(2)} s`);
  }
  await sampler.dispose();
  const steady = rows.slice(1); // the first iteration includes warm-up
  return {
    rollout: median(steady.map((r) => r.rollout)),
    scoring: median(steady.map((r) => r.scoring)),
    update: median(steady.map((r) => r.update)),
    tokS: median(steady.map((r) => r.tokS)),
    backend: `${report.backend}; ORT ${report.ortProviders.join(',')}`,
  };
}

function findTorchPython(): string | undefined {
  // PATH's python3 may be a pyenv shim without Debian's dist-packages.
  return ['python3', '/usr/bin/python3'].find((py) => spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0);
}

/**
 * Runs bench/torch_ppo.py with all cores and with one thread and keeps the faster: on a busy
 * machine OpenMP's second thread can make PyTorch much slower, and the comparison is against
 * PyTorch at its best. Or says why it could not run.
 */
function benchTorch(reps: number): (Phases & { torch: string; threads: number }) | string {
  const py = findTorchPython();
  if (!py) return 'PyTorch not present (apt-get install python3-torch libopenblas0-pthread)';
  const c = TINY_CONFIG;
  const base = {
    vocab: c.vocab_size,
    ctx: c.n_positions,
    d: c.n_embd,
    heads: c.n_head,
    layers: c.n_layer,
    rollout: SHAPE.rollout,
    prompt_len: SHAPE.promptLen,
    new_tokens: SHAPE.newTokens,
    epochs: SHAPE.epochs,
    minibatches: SHAPE.minibatches,
    reps,
  };
  const results: (Phases & { torch: string; threads: number })[] = [];
  for (const threads of [0, 1]) {
    const r = spawnSync(py, [path.join(__dirname, 'torch_ppo.py'), JSON.stringify({ ...base, threads })], { encoding: 'utf8' });
    if (r.status !== 0) return `torch_ppo.py failed: ${r.stderr.trim().split('\n').pop()}`;
    results.push(JSON.parse(r.stdout.trim().split('\n').pop() as string) as Phases & { torch: string; threads: number });
  }
  const total = (p: Phases): number => p.rollout + p.scoring + p.update;
  return results.reduce((a, b) => (total(b) < total(a) ? b : a));
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { iterations: { type: 'string' }, backend: { type: 'string' } } });
  const iterations = Number(values.iterations ?? 6);
  const backend = values.backend === 'cpu' ? 'cpu' : 'wasm';
  const c = TINY_CONFIG;
  console.log(
    `PPO iteration: ${SHAPE.rollout} rollouts × ${SHAPE.newTokens} new tokens, ${SHAPE.epochs} epochs × ${SHAPE.minibatches} minibatches; model d=${c.n_embd}, layers=${c.n_layer}, heads=${c.n_head}, vocab=${c.vocab_size}`,
  );
  const ts = await benchTs(iterations, backend);
  const torch = benchTorch(Math.max(3, iterations - 1));
  const total = (p: Phases): number => p.rollout + p.scoring + p.update;
  const fmt = (x: number): string => x.toFixed(3).padStart(8);
  console.log('\nphase        tfjs+ORT (s)   pytorch (s)   ratio (ours / pytorch)');
  for (const phase of ['rollout', 'scoring', 'update'] as const) {
    const t = typeof torch === 'string' ? undefined : torch[phase];
    console.log(`${phase.padEnd(12)} ${fmt(ts[phase])}      ${t === undefined ? '     n/a' : fmt(t)}      ${t === undefined ? 'n/a' : (ts[phase] / t).toFixed(2) + '×'}`);
  }
  const tt = typeof torch === 'string' ? undefined : total(torch);
  console.log(`${'total'.padEnd(12)} ${fmt(total(ts))}      ${tt === undefined ? '     n/a' : fmt(tt)}      ${tt === undefined ? 'n/a' : (total(ts) / tt).toFixed(2) + '×'}`);
  console.log(`\ntokens/s (response tokens per iteration second): ours ${ts.tokS.toFixed(0)}${tt === undefined ? '' : `, pytorch ${((SHAPE.rollout * SHAPE.newTokens) / tt).toFixed(0)}`}`);
  console.log(`ours: tfjs ${ts.backend}; ${typeof torch === 'string' ? torch : `pytorch ${torch.torch}, ${torch.threads} threads`}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

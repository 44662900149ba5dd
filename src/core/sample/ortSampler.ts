/**
 * Sampling with onnxruntime-node over the KV-cache graph of gptGraph.ts. The CUDA execution
 * provider is used when it loads, else CPU. Token choice is pick.ts's, shared with the tfjs
 * sampler, so the two differ only in where logits come from. After a policy update call
 * `refresh(weights)`.
 *
 * Two ways to hold the weights (liveGraph.ts builds both graphs without weight bytes inside):
 * - baked (default): the session holds its own copy of the weights, read at creation from the
 *   caller's buffers as in-memory external data (no serialisation). `refresh` builds a new
 *   session: about 0.9 s at distilgpt2 size, 1.8 s at gpt2 size (bench/refresh.ts). The weights
 *   are prepacked for the matmuls, so decode steps are fastest.
 * - live (`live: true`, CPU only): one session, built once, whose parameters are graph inputs fed
 *   the caller's Float32Arrays by reference at every run (no copy). A policy update written into
 *   those same buffers needs no new session: `refresh` with the same buffers costs nothing, with
 *   new ones it only swaps the tensors it feeds. The price is at every step: ONNX Runtime packs
 *   each weight matrix again in every matmul (sampling ~2× slower at distilgpt2 and gpt2 size), and
 *   the logits differ from a baked session's in the last bits (~1e-5), so a near-tie may pick a
 *   different token. The buffers must not change while a `sample` or `logits` call is running
 *   (they are read at every step). On CUDA the weights would cross to the device at every step,
 *   so there the sampler stays baked (see `live`).
 */
import type * as Ort from 'onnxruntime-node';
import { headDim } from '../model/config';
import type { ModelConfig } from '../model/modelConfig';
import { contextLength, isLlama, layerCount, startTokenId } from '../model/modelConfig';
import type { NamedTensor } from '../model/safetensors';
import { pastKeyName, pastValueName, presentKeyName, presentValueName } from '../onnx/gptGraph';
import { firstLine } from '../onnx/probe';
import { UserError } from '../errors';
import { ortThreads } from '../train/ort/device';
import { buildExternalGptGraph, buildLiveGptGraph, checkedParameters, externalWeights } from './liveGraph';
import { checkSamplingOptions, pickToken, seededRandom, sequenceSeed } from './pick';
import { completionText, finishReason, stopAfter } from './stop';
import type { Stopped } from './stop';
import { fitPrompt, promptRoom } from './types';
import type { Completion, SamplingOptions } from './types';

type OrtModule = typeof Ort;

export interface OrtSamplerOptions {
  /** Providers to try in order, each on its own (asking for several throws when CUDA is missing). Default ['cuda', 'cpu']. */
  readonly providers?: readonly string[];
  /** Threads per op on CPU. Default: this process's count (ort/device.ts: the physical cores minus the reserved ones, or --threads), as the training sessions. */
  readonly intraOpThreads?: number;
  /** Feed the weights' own buffers to one session built once (CPU only; see the file comment). Default false. */
  readonly live?: boolean;
}

export interface SamplerModel {
  readonly config: ModelConfig;
  readonly weights: ReadonlyMap<string, NamedTensor>;
}

/** One forward's outputs: logits [B, T, V] and the cache for the next call. */
interface Step {
  readonly logits: Float32Array;
  readonly past: Record<string, Ort.Tensor>;
}

/** The options of the sampler's sessions (exported for bench/refresh.ts's split of a rebuild's cost). */
export function samplerSessionOptions(provider: string, intraOpThreads = ortThreads()): Ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [provider],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    logSeverityLevel: 4,
    // Idle pool threads sleep instead of spinning: the editor shares these cores, and on a
    // busy 2-core machine spinning made decode steps ~5× slower (measured).
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
}

export class OrtSampler {
  /** Full-logits session for `logits()`, built on first use (sampling needs only the last position). */
  private full: Promise<Ort.InferenceSession> | undefined;
  /** Calls run one at a time, so a refresh never releases a session a sample is using. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Why the last refresh could not build its session (the old one is already freed). */
  private broken: unknown;

  /** Live sessions only: the weights as the tensors every run is fed (views of the caller's buffers). */
  private feeds: Record<string, Ort.Tensor> = {};
  /** The full-logits graph (built on first use), and the sampling graph of a baked sampler. */
  private fullBytes: Uint8Array | undefined;

  private constructor(
    private readonly ort: OrtModule,
    private session: Ort.InferenceSession,
    private readonly config: ModelConfig,
    private weights: ReadonlyMap<string, NamedTensor>,
    /** The provider the session runs on ('cuda' or 'cpu'). */
    readonly provider: string,
    private readonly sessionOptions: Ort.InferenceSession.SessionOptions,
    /** Whether runs read the weights' buffers (one session for every refresh) rather than a baked copy. */
    readonly live: boolean,
    private readonly bytes: Uint8Array,
  ) {
    if (live) this.feeds = this.feedsOf(weights);
  }

  static async create(model: SamplerModel, opts: OrtSamplerOptions = {}): Promise<OrtSampler> {
    const ort = await import('onnxruntime-node');
    // A missing CUDA is expected; without this ORT prints the failure to stderr.
    ort.env.logLevel = 'fatal';
    const sampling = { logits: 'last', fused: true } as const;
    checkedParameters(model.config, model.weights);
    let baked: Uint8Array | undefined;
    let liveBytes: Uint8Array | undefined;
    const failures: string[] = [];
    for (const provider of opts.providers ?? ['cuda', 'cpu']) {
      const live = opts.live === true && provider === 'cpu';
      const bytes = live ? (liveBytes ??= buildLiveGptGraph(model.config, sampling)) : (baked ??= buildExternalGptGraph(model.config, sampling));
      const sessionOptions = samplerSessionOptions(provider, opts.intraOpThreads);
      try {
        const session = await ort.InferenceSession.create(bytes, live ? sessionOptions : { ...sessionOptions, externalData: externalWeights(model.config, model.weights) });
        return new OrtSampler(ort, session, model.config, model.weights, provider, sessionOptions, live, bytes);
      } catch (err) {
        failures.push(`${provider}: ${firstLine(err)}`);
      }
    }
    throw new Error(`OrtSampler: no execution provider could load the model (${failures.join('; ')})`);
  }

  /**
   * Use updated weights from the next call on (same config and provider); waits for running calls.
   * Baked: rebuilds the session. Live: nothing to do for the same buffers written in place, a
   * swap of the fed tensors for new ones.
   */
  refresh(weights: ReadonlyMap<string, NamedTensor>): Promise<void> {
    return this.exclusive(async () => {
      if (!this.live) return this.rebuild(weights);
      this.feeds = this.feedsOf(weights);
      this.weights = weights;
    });
  }

  dispose(): Promise<void> {
    return this.exclusive(async () => {
      if (this.broken === undefined) await this.session.release(); // a failed refresh already freed it
      await this.releaseFull();
    });
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.queue.then(fn);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Tensors over the weights' own buffers (no copy), keyed by the live graph's input names. */
  private feedsOf(weights: ReadonlyMap<string, NamedTensor>): Record<string, Ort.Tensor> {
    const feeds: Record<string, Ort.Tensor> = {};
    for (const name of checkedParameters(this.config, weights)) {
      const w = weights.get(name) as NamedTensor;
      const old = this.feeds[name];
      feeds[name] = old && old.data === w.data ? old : new this.ort.Tensor('float32', w.data, w.shape);
    }
    return feeds;
  }

  private async rebuild(weights: ReadonlyMap<string, NamedTensor>): Promise<void> {
    const externalData = externalWeights(this.config, weights); // checks the shapes before anything is freed
    // The old session goes first, so the model is never held twice (at gpt2 size that was the peak
    // of every PPO iteration). Should the new one fail, sampling says so instead of using a freed session.
    await this.session.release();
    await this.releaseFull();
    try {
      this.session = await this.ort.InferenceSession.create(this.bytes, { ...this.sessionOptions, externalData });
      this.broken = undefined;
    } catch (err) {
      this.broken = err;
      throw err;
    }
    this.weights = weights;
  }

  private async releaseFull(): Promise<void> {
    const full = this.full;
    this.full = undefined;
    if (full) await (await full).release();
  }

  /**
   * Sample one completion per prompt (token ids, any lengths), batched with left padding.
   * `decode` turns completion ids into text (for stop strings and the result).
   */
  sample(prompts: readonly (readonly number[])[], options: SamplingOptions, decode: (ids: readonly number[]) => string, signal?: AbortSignal): Promise<Completion[]> {
    return this.exclusive(() => this.generate(prompts, options, decode, signal));
  }

  private async generate(prompts: readonly (readonly number[])[], options: SamplingOptions, decode: (ids: readonly number[]) => string, signal?: AbortSignal): Promise<Completion[]> {
    if (this.broken !== undefined) throw new Error(`OrtSampler: the last refresh failed (${firstLine(this.broken)}); refresh again`);
    const problem = checkSamplingOptions(options);
    if (problem) throw new UserError(`Sampling options: ${problem}.`);
    const { config } = this;
    if (prompts.length === 0) return [];
    // An empty prompt conditions on BOS, as transformers' generate does; a prompt longer than the
    // context leaves room for keeps its end (promptRoom).
    const context = contextLength(config);
    const room = promptRoom(context, options.maxNewTokens);
    const rows = prompts.map((p) => (p.length > 0 ? [...fitPrompt(p, room)] : [startTokenId(config)]));
    for (const row of rows)
      for (const id of row) if (!Number.isInteger(id) || id < 0 || id >= config.vocab_size) throw new UserError(`Prompt token id ${id} is outside the vocabulary (0..${config.vocab_size - 1}).`);
    const B = rows.length;
    const P = Math.max(...rows.map((r) => r.length));
    const steps = Math.min(options.maxNewTokens, context - P);

    // Prefill: left-padded prompts, padding masked and at position 0 (HF generate's rule).
    const ids = new BigInt64Array(B * P);
    let mask = new BigInt64Array(B * P);
    const pos = new BigInt64Array(B * P);
    const length = rows.map((r) => r.length);
    rows.forEach((r, b) => {
      const pad = P - r.length;
      r.forEach((id, j) => {
        ids[b * P + pad + j] = BigInt(id);
        mask[b * P + pad + j] = 1n;
        pos[b * P + pad + j] = BigInt(j);
      });
    });
    let step = await this.run(this.session, ids, mask, pos, B, P, this.emptyPast(B));

    const random = rows.map((_, b) => seededRandom(sequenceSeed(options.seed, b)));
    const tokens: number[][] = rows.map(() => []);
    const logprobs: number[][] = rows.map(() => []);
    const stopped: (Stopped | undefined)[] = rows.map(() => undefined);
    const V = config.vocab_size;
    const next = new BigInt64Array(B);
    const nextPos = new BigInt64Array(B);
    let total = P;
    for (let s = 0; s < steps; s++) {
      signal?.throwIfAborted();
      const T = step.logits.length / (B * V); // 1: the sampling graph returns the last position only
      for (let b = 0; b < B; b++) {
        if (stopped[b]) continue;
        const row = step.logits.subarray((b * T + T - 1) * V, (b * T + T) * V);
        const picked = pickToken(row, options, random[b] as () => number);
        (tokens[b] as number[]).push(picked.token);
        (logprobs[b] as number[]).push(picked.logprob);
        stopped[b] = stopAfter(tokens[b] as number[], options, decode);
        next[b] = BigInt(picked.token);
        nextPos[b] = BigInt((length[b] as number) + s);
      }
      if (stopped.every((f) => f) || s === steps - 1) break;
      // One new token per row; finished rows keep feeding their last token, ignored from here.
      const grown = new BigInt64Array(B * (total + 1));
      for (let b = 0; b < B; b++) {
        grown.set(mask.subarray(b * total, (b + 1) * total), b * (total + 1));
        grown[b * (total + 1) + total] = 1n;
      }
      mask = grown;
      total += 1;
      step = await this.run(this.session, next, mask, nextPos, B, 1, step.past);
    }
    return rows.map((_, b) => {
      const toks = tokens[b] as number[];
      return { promptIndex: b, tokens: toks, text: completionText(toks, stopped[b], decode), logprobs: logprobs[b] as number[], finishReason: finishReason(stopped[b]) };
    });
  }

  /**
   * Logits [B, T, V] for equal-length rows (left-pad yourself and pass the mask). With
   * `splitAt`, the first `splitAt` tokens go through the cache first, then the rest (for tests).
   */
  logits(inputIds: readonly (readonly number[])[], attentionMask: readonly (readonly number[])[], splitAt?: number): Promise<Float32Array> {
    return this.exclusive(() => this.fullLogits(inputIds, attentionMask, splitAt));
  }

  private async fullLogits(inputIds: readonly (readonly number[])[], attentionMask: readonly (readonly number[])[], splitAt?: number): Promise<Float32Array> {
    const B = inputIds.length;
    const T = inputIds[0]?.length ?? 0;
    const flat = (rows: readonly (readonly number[])[], from: number, to: number): BigInt64Array => BigInt64Array.from(rows.flatMap((r) => r.slice(from, to).map((v) => BigInt(v))));
    // Positions as HF generate: real tokens counted from 0, padding at 0.
    const positions = attentionMask.map((m) => {
      let seen = 0;
      return m.map((v) => (v ? seen++ : 0));
    });
    if (!this.full) {
      // ONNX Runtime's GroupQueryAttention (the fused Llama graph) takes several new tokens over a
      // cache only for one row; these logits may split any batch anywhere, so Llama's use standard ops.
      const fused = !isLlama(this.config);
      this.fullBytes ??= this.live ? buildLiveGptGraph(this.config, { fused }) : buildExternalGptGraph(this.config, { fused });
      this.full = this.ort.InferenceSession.create(this.fullBytes, this.live ? this.sessionOptions : { ...this.sessionOptions, externalData: externalWeights(this.config, this.weights) });
    }
    const session = await this.full;
    const cut = splitAt ?? T;
    const first = await this.run(session, flat(inputIds, 0, cut), flat(attentionMask, 0, cut), flat(positions, 0, cut), B, cut, this.emptyPast(B));
    if (cut === T) return first.logits;
    const second = await this.run(session, flat(inputIds, cut, T), flat(attentionMask, 0, T), flat(positions, cut, T), B, T - cut, first.past);
    const V = this.config.vocab_size;
    const out = new Float32Array(B * T * V);
    for (let b = 0; b < B; b++) {
      out.set(first.logits.subarray(b * cut * V, (b + 1) * cut * V), b * T * V);
      out.set(second.logits.subarray(b * (T - cut) * V, (b + 1) * (T - cut) * V), (b * T + cut) * V);
    }
    return out;
  }

  private emptyPast(B: number): Record<string, Ort.Tensor> {
    const c = this.config;
    // The cache's heads: GPT-2's n_head, a Llama's key/value heads (grouped-query attention).
    const [H, D] = isLlama(c) ? [c.num_key_value_heads, c.head_dim] : [c.n_head, headDim(c)];
    const n_layer = layerCount(c);
    const past: Record<string, Ort.Tensor> = {};
    for (let i = 0; i < n_layer; i++) {
      past[pastKeyName(i)] = new this.ort.Tensor('float32', new Float32Array(0), [B, H, 0, D]);
      past[pastValueName(i)] = new this.ort.Tensor('float32', new Float32Array(0), [B, H, 0, D]);
    }
    return past;
  }

  private async run(session: Ort.InferenceSession, ids: BigInt64Array, mask: BigInt64Array, positions: BigInt64Array, B: number, T: number, past: Record<string, Ort.Tensor>): Promise<Step> {
    const { Tensor } = this.ort;
    const out = await session.run({
      input_ids: new Tensor('int64', ids, [B, T]),
      attention_mask: new Tensor('int64', mask, [B, mask.length / B]),
      position_ids: new Tensor('int64', positions, [B, T]),
      ...past,
      ...this.feeds,
    });
    const present: Record<string, Ort.Tensor> = {};
    for (let i = 0; i < layerCount(this.config); i++) {
      present[pastKeyName(i)] = out[presentKeyName(i)] as Ort.Tensor;
      present[pastValueName(i)] = out[presentValueName(i)] as Ort.Tensor;
    }
    return { logits: (out.logits as Ort.Tensor).data as Float32Array, past: present };
  }
}

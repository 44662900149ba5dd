/**
 * Training runs: `runs/<id>/` holds config.json (the stage's config, written once), run.json
 * (state, step, checkpoints; replaced atomically), metrics.jsonl and samples.jsonl (appended by
 * the run's single owner, the pipeline runner), and checkpoints/.
 *
 * Metrics are many small lines: each is written at once (a crashed process loses nothing; the OS
 * has it) but fsync'd only every `fsyncEveryMs` and on flush/close, so a power cut can cost the
 * last seconds of curves. Labels, unlike metrics, are fsync'd per event (rankings.ts).
 */
import type { StageName } from '../../protocol/stages';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { z } from 'zod';
import { UserError } from '../errors';
import { writeJsonAtomic } from './fsx';
import { isSafeId } from '../../protocol/guards';
import { newRunId } from './ids';
import type { BadTail } from './jsonl';
import { readJsonFile } from './jsonl';
import { JsonlLog } from './log';
import type { Repair } from './log';
import type { StoreContext } from './project';
import { metricRecord, runRecord, sampleRecord } from './schemas';
import type { CheckpointRecord, MetricRecord, RunRecord, RunState, SampleRecord } from './schemas';

export interface RunSummary {
  readonly id: string;
  readonly stage: string;
  readonly state: RunState;
  readonly step: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** The newest checkpoint recorded, absolute path. */
  readonly latestCheckpoint?: string;
}

export interface RunUpdate {
  readonly state?: RunState;
  readonly step?: number;
  readonly message?: string;
}

export interface MetricsWriterConfig {
  /** fsync metrics.jsonl at most this often while appending (ms; default 5000). */
  readonly fsyncEveryMs: number;
}

export class RunStore {
  constructor(private readonly ctx: StoreContext) {}

  dir(id: string): string {
    if (!isSafeId(id)) throw new UserError(`'${id}' is not a valid run id (letters, digits, _ . - only).`);
    return path.join(this.ctx.paths.runs, id);
  }

  /** Creates `runs/<id>/` in state 'running' with the stage's config (any JSON value). */
  async create(stage: string, config: unknown, id: string = newRunId(stage)): Promise<RunRecord> {
    const dir = this.dir(id);
    return this.ctx.lock(() => {
      if (fs.existsSync(dir)) throw new UserError(`Run ${id} already exists in ${this.ctx.paths.runs}; choose another id.`);
      fs.mkdirSync(path.join(dir, 'checkpoints'), { recursive: true });
      writeJsonAtomic(path.join(dir, 'config.json'), config);
      const now = new Date().toISOString();
      const record = runRecord.parse({ v: 1, id, stage, state: 'running', createdAt: now, updatedAt: now, step: 0, checkpoints: [] });
      writeJsonAtomic(path.join(dir, 'run.json'), record);
      return record;
    });
  }

  get(id: string): RunRecord {
    return readJsonFile(path.join(this.dir(id), 'run.json'), runRecord);
  }

  /** The run's config, validated by the stage's own schema. */
  config<T>(id: string, schema: z.ZodType<T>): T {
    return readJsonFile(path.join(this.dir(id), 'config.json'), schema);
  }

  async update(id: string, update: RunUpdate): Promise<RunRecord> {
    return this.change(id, (r) => ({
      ...r,
      ...(update.state !== undefined ? { state: update.state } : {}),
      ...(update.step !== undefined ? { step: update.step } : {}),
      ...(update.message !== undefined ? { message: update.message } : {}),
    }));
  }

  /** Records a checkpoint folder (relative to the run folder when inside it) and advances `step`. */
  async addCheckpoint(id: string, checkpoint: Omit<CheckpointRecord, 'time'>): Promise<RunRecord> {
    const dir = this.dir(id);
    const rel = path.isAbsolute(checkpoint.path) && checkpoint.path.startsWith(dir + path.sep) ? path.relative(dir, checkpoint.path) : checkpoint.path;
    return this.change(id, (r) => ({
      ...r,
      // The step within the stage that wrote the newest checkpoint (stages count their own steps).
      step: checkpoint.step,
      checkpoints: [...r.checkpoints, { ...checkpoint, path: rel, time: new Date().toISOString() }],
    }));
  }

  /** All runs, oldest first. */
  list(): RunSummary[] {
    if (!fs.existsSync(this.ctx.paths.runs)) return [];
    return fs
      .readdirSync(this.ctx.paths.runs)
      .filter((name) => isSafeId(name) && fs.existsSync(path.join(this.ctx.paths.runs, name, 'run.json')))
      .map((name) => this.summary(this.get(name)))
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  summary(r: RunRecord): RunSummary {
    const last = r.checkpoints[r.checkpoints.length - 1];
    return {
      id: r.id,
      stage: r.stage,
      state: r.state,
      step: r.step,
      createdAt: r.createdAt,
      updatedAt: r.updatedAt,
      ...(last ? { latestCheckpoint: path.resolve(this.dir(r.id), last.path) } : {}),
    };
  }

  /** Opens the run's metrics for appending (moving a torn last line aside first). */
  metricsWriter(id: string, config: MetricsWriterConfig = { fsyncEveryMs: 5000 }): MetricsWriter {
    return new MetricsWriter(new JsonlLog(path.join(this.dir(id), 'metrics.jsonl'), metricRecord, false), config);
  }

  /** Every metric line, validated; a torn last line (a run that died mid-write) is skipped and reported. */
  readMetrics(id: string): { records: MetricRecord[]; tail?: BadTail } {
    const read = new JsonlLog(path.join(this.dir(id), 'metrics.jsonl'), metricRecord).read();
    return { records: read.records.map((r) => r.value), ...(read.tail ? { tail: read.tail } : {}) };
  }

  async appendSamples(id: string, samples: readonly Omit<SampleRecord, 'time'>[]): Promise<void> {
    const time = new Date().toISOString();
    new JsonlLog(path.join(this.dir(id), 'samples.jsonl'), sampleRecord, false).append(samples.map((s) => ({ ...s, time })));
  }

  readSamples(id: string): { records: SampleRecord[]; tail?: BadTail } {
    const read = new JsonlLog(path.join(this.dir(id), 'samples.jsonl'), sampleRecord).read();
    return { records: read.records.map((r) => r.value), ...(read.tail ? { tail: read.tail } : {}) };
  }

  private async change(id: string, fn: (r: RunRecord) => RunRecord): Promise<RunRecord> {
    const file = path.join(this.dir(id), 'run.json');
    return this.ctx.lock(() => {
      const next = runRecord.parse({ ...fn(readJsonFile(file, runRecord)), updatedAt: new Date().toISOString() });
      writeJsonAtomic(file, next);
      return next;
    });
  }
}

/** Appends metric lines for one run; call close() when the run ends (it fsyncs). */
export class MetricsWriter {
  /** A torn last line found (and moved aside) when the writer opened, e.g. after a crash. */
  readonly repair: Repair | undefined;
  private lastSync = Date.now();
  private dirty = false;

  constructor(
    private readonly log: JsonlLog<MetricRecord>,
    private readonly config: MetricsWriterConfig,
  ) {
    fs.mkdirSync(path.dirname(log.file), { recursive: true });
    this.repair = log.repair();
  }

  /** One line: every metric at `step`. Non-finite values are stored as null. */
  append(step: number, values: Readonly<Record<string, number>>, stage?: StageName): void {
    const clean: Record<string, number | null> = {};
    for (const [k, v] of Object.entries(values)) clean[k] = Number.isFinite(v) ? v : null;
    this.log.append([{ ...(stage ? { stage } : {}), step, time: new Date().toISOString(), values: clean }]);
    this.dirty = true;
    if (Date.now() - this.lastSync >= this.config.fsyncEveryMs) this.flush();
  }

  flush(): void {
    if (!this.dirty || !fs.existsSync(this.log.file)) return;
    const fd = fs.openSync(this.log.file, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    this.dirty = false;
    this.lastSync = Date.now();
  }

  close(): void {
    this.flush();
  }
}

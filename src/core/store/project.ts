/**
 * The workspace project: a folder `.rlhf/` beside the user's code.
 *
 *   .rlhf/
 *     project.json            schema version, model folders, settings, labeling guidelines (atomic)
 *     prompts.jsonl           one prompt per line; id = hash of the text, so adding twice dedupes
 *     completions.jsonl       one batch per line: K completions of one prompt, with model/checkpoint,
 *                             sampling parameters, seed and optional per-token log-probs
 *     rankings/<labeler>.jsonl  append-only ranking events of one labeler (rank, edit, undo),
 *                             fsync'd before the call returns; the current state is derived
 *     runs/<id>/              config.json, run.json (state, step, checkpoints), metrics.jsonl,
 *                             samples.jsonl, checkpoints/
 *     lock                    the write lock (a directory; see lock.ts)
 *     .gitignore              keeps the lock, temp files and runs/ (large checkpoints) out of git;
 *                             the labels and prompts are meant to be committed
 *     *.corrupt               damaged log tails moved aside on open (never deleted)
 *
 * Logs are append-only JSONL; everything else is replaced atomically. Every record read is
 * validated. A project written by a newer schema version is refused, never rewritten.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../errors';
import { fileStamp, writeFileAtomic, writeJsonAtomic } from './fsx';
import { describeIssue, readJsonFile } from './jsonl';
import { resolveLabeler } from './labeler';
import type { Repair } from './log';
import { PROJECT_SCHEMA_VERSION, projectRecord } from './schemas';
import type { ProjectRecord } from './schemas';
import { withLock } from './lock';
import type { LockConfig } from './lock';
import { DEFAULT_LOCK } from './lock';
import { PromptStore } from './prompts';
import { CompletionStore } from './completions';
import { RankingStore } from './rankings';
import { RunStore } from './runs';
import { z } from 'zod';

export const PROJECT_DIR = '.rlhf';

const GITIGNORE = '# Written by RLHF Workbench. Labels and prompts are meant to be committed.\n/lock\n.*.tmp-*\n/runs/\n';

export interface ProjectPaths {
  /** The workspace folder that holds `.rlhf/`. */
  readonly workspace: string;
  readonly dir: string;
  readonly projectJson: string;
  readonly prompts: string;
  readonly completions: string;
  readonly rankings: string;
  readonly runs: string;
}

export function projectPaths(workspace: string): ProjectPaths {
  const dir = path.join(path.resolve(workspace), PROJECT_DIR);
  return {
    workspace: path.resolve(workspace),
    dir,
    projectJson: path.join(dir, 'project.json'),
    prompts: path.join(dir, 'prompts.jsonl'),
    completions: path.join(dir, 'completions.jsonl'),
    rankings: path.join(dir, 'rankings'),
    runs: path.join(dir, 'runs'),
  };
}

/** What the stores share: where things are and how to take the write lock. */
export interface StoreContext {
  readonly paths: ProjectPaths;
  lock<T>(fn: () => T | Promise<T>): Promise<T>;
}

/** Turns a project.json of version `from` into version `from + 1` (plain JSON in, plain JSON out). */
export interface ProjectMigration {
  readonly from: number;
  migrate(raw: Record<string, unknown>): Record<string, unknown>;
}

/** Every migration this code knows, oldest first. Version 1 is the first released schema. */
export const PROJECT_MIGRATIONS: readonly ProjectMigration[] = [];

export interface ProjectOptions {
  /** The labeler setting (wins over project.json and git). */
  readonly labeler?: string;
  readonly lock?: LockConfig;
  /** For tests of the migration path; defaults to PROJECT_MIGRATIONS. */
  readonly migrations?: readonly ProjectMigration[];
  readonly schemaVersion?: number;
}

export interface CreateOptions extends ProjectOptions {
  readonly name?: string;
  readonly guidelines?: string;
}

export function defaultProjectRecord(name?: string, guidelines = ''): ProjectRecord {
  return {
    schemaVersion: PROJECT_SCHEMA_VERSION,
    ...(name !== undefined ? { name } : {}),
    createdAt: new Date().toISOString(),
    models: {},
    settings: { includeImplicit: false, includeSimulated: true },
    guidelines,
  };
}

export class Project implements StoreContext {
  readonly prompts: PromptStore;
  readonly completions: CompletionStore;
  readonly rankings: RankingStore;
  readonly runs: RunStore;

  /** Identifies the project.json `record` was read from (replaced atomically, so a new inode). */
  private recordStamp: string;
  private resolvedLabeler: string | undefined;

  private constructor(
    readonly paths: ProjectPaths,
    private record: ProjectRecord,
    /** Damaged log tails found and moved aside while opening. */
    readonly repairs: readonly Repair[],
    /** The schema version project.json had before this open migrated it (undefined: no migration). */
    readonly migratedFrom: number | undefined,
    private readonly options: ProjectOptions,
  ) {
    this.recordStamp = fileStamp(paths.projectJson);
    this.prompts = new PromptStore(this);
    this.completions = new CompletionStore(this);
    this.rankings = new RankingStore(this, () => this.labeler);
    this.runs = new RunStore(this);
  }

  /** project.json as it is now: re-read when another window or the CLI has changed it. */
  get meta(): ProjectRecord {
    const stamp = fileStamp(this.paths.projectJson);
    if (stamp !== this.recordStamp) {
      this.record = readProjectRecord(this.paths, this.options).record;
      this.recordStamp = stamp;
      this.resolvedLabeler = undefined;
    }
    return this.record;
  }

  /** The labeler this session writes as (setting → project.json → git user.email → OS user). */
  get labeler(): string {
    // Resolved once (it may run git); updateMeta resets it.
    const settings = this.meta.settings;
    this.resolvedLabeler ??= resolveLabeler(this.paths.workspace, this.options.labeler, settings.labeler);
    return this.resolvedLabeler;
  }

  lock<T>(fn: () => T | Promise<T>): Promise<T> {
    return withLock(this.paths.dir, fn, this.options.lock ?? DEFAULT_LOCK);
  }

  /** Changes project.json (atomically, under the lock); `change` gets a copy. */
  async updateMeta(change: (current: ProjectRecord) => ProjectRecord): Promise<ProjectRecord> {
    return this.lock(() => {
      const next = projectRecord.parse(change(structuredClone(readProjectRecord(this.paths, this.options).record)));
      writeJsonAtomic(this.paths.projectJson, next);
      this.record = next;
      this.recordStamp = fileStamp(this.paths.projectJson);
      this.resolvedLabeler = undefined;
      return next;
    });
  }

  /** Creates `.rlhf/` in `workspace` (which must exist). Refuses when a project is already there. */
  static async create(workspace: string, options: CreateOptions = {}): Promise<Project> {
    const paths = projectPaths(workspace);
    if (!fs.existsSync(paths.workspace) || !fs.statSync(paths.workspace).isDirectory()) {
      throw new UserError(`${paths.workspace} is not a folder. Create it first, or pass an existing folder.`);
    }
    if (fs.existsSync(paths.projectJson)) {
      throw new UserError(`${paths.projectJson} already exists: this folder already holds a project. Open it instead.`);
    }
    for (const d of [paths.dir, paths.rankings, paths.runs]) fs.mkdirSync(d, { recursive: true });
    await withLock(
      paths.dir,
      () => {
        if (fs.existsSync(paths.projectJson)) throw new UserError(`${paths.projectJson} was just created by another writer. Open it instead.`);
        writeFileAtomic(path.join(paths.dir, '.gitignore'), GITIGNORE);
        writeJsonAtomic(paths.projectJson, defaultProjectRecord(options.name, options.guidelines));
      },
      options.lock ?? DEFAULT_LOCK,
    );
    return Project.open(workspace, options);
  }

  /**
   * Opens the project in `workspace`: migrates project.json forward if it is older, refuses one
   * from a newer version, and moves damaged log tails aside (see `repairs`).
   */
  static async open(workspace: string, options: ProjectOptions = {}): Promise<Project> {
    const paths = projectPaths(workspace);
    if (!fs.existsSync(paths.projectJson)) {
      throw new UserError(`No RLHF project in ${paths.workspace} (${paths.projectJson} is missing). Run \`rlhf init\` there, or pass --project DIR.`);
    }
    return withLock(
      paths.dir,
      () => {
        const { record, migratedFrom } = readProjectRecord(paths, options);
        if (migratedFrom !== undefined) {
          // Keep the old file: a migration is a one-way change to the user's data.
          writeFileAtomic(freshName(`${paths.projectJson}.v${migratedFrom}`, '.bak'), fs.readFileSync(paths.projectJson));
          writeJsonAtomic(paths.projectJson, record);
        }
        fs.mkdirSync(paths.rankings, { recursive: true });
        fs.mkdirSync(paths.runs, { recursive: true });
        const repairs: Repair[] = [];
        const project = new Project(paths, record, repairs, migratedFrom, options);
        for (const log of project.logs()) {
          const repair = log.repair();
          if (repair) repairs.push(repair);
        }
        return project;
      },
      options.lock ?? DEFAULT_LOCK,
    );
  }

  /** Every append-only log of labels and data (not run metrics). */
  private logs() {
    return [this.prompts.log, this.completions.log, ...this.rankings.logs()];
  }
}

/** `<stem><ext>`, or `<stem>.2<ext>`, `.3` … when taken: backups never overwrite backups. */
function freshName(stem: string, ext: string): string {
  let name = stem + ext;
  for (let i = 2; fs.existsSync(name); i++) name = `${stem}.${i}${ext}`;
  return name;
}

const versionOnly = z.looseObject({ schemaVersion: z.int().min(1) });

/** Reads project.json, applying migrations in memory. */
function readProjectRecord(paths: ProjectPaths, options: ProjectOptions): { record: ProjectRecord; migratedFrom?: number } {
  const current = options.schemaVersion ?? PROJECT_SCHEMA_VERSION;
  let raw = readJsonFile(paths.projectJson, versionOnly) as Record<string, unknown> & { schemaVersion: number };
  const from = raw.schemaVersion;
  if (from > current) {
    throw new UserError(`${paths.projectJson} has schema version ${from}, but this version of RLHF Workbench knows only up to ${current}. Update the extension/CLI; the project was not changed.`);
  }
  for (let v = from; v < current; v++) {
    const step = (options.migrations ?? PROJECT_MIGRATIONS).find((m) => m.from === v);
    if (!step) throw new Error(`No migration from project schema ${v} to ${v + 1}: a bug in the migration table.`);
    raw = { ...step.migrate(raw), schemaVersion: v + 1 };
  }
  const schema = options.schemaVersion === undefined ? projectRecord : projectRecord.extend({ schemaVersion: z.literal(current) });
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new UserError(`${paths.projectJson}: ${describeIssue(parsed.error)}. Fix the file (or restore it from version control).`);
  }
  return from === current ? { record: parsed.data as ProjectRecord } : { record: parsed.data as ProjectRecord, migratedFrom: from };
}

/**
 * How a run was started, so it can be resumed with the same settings: `runs/<id>/launch.json`
 * beside the runner's own files ({kind, configFile?, preset?}). Demo runs resume from their
 * config.json (the whole DemoConfig is saved there), so even demo runs started by the CLI resume.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import type { DemoConfig } from '../../core/demo/demo';
import type { GrpoDemoConfig } from '../../core/demo/grpoDemo';
import { UserError } from '../../core/errors';
import { writeJsonAtomic } from '../../core/store/fsx';
import { readJsonFile } from '../../core/store/jsonl';
import type { Project } from '../../core/store/project';
import { RUN_KINDS } from '../../protocol/engineTraining';
import type { RunKind } from '../../protocol/engineTraining';

const launchRecord = z.strictObject({
  v: z.literal(1),
  kind: z.enum(RUN_KINDS),
  configFile: z.string().min(1).optional(),
  preset: z.string().min(1).optional(),
});
export type LaunchRecord = z.infer<typeof launchRecord>;

const LAUNCH = 'launch.json';

export function writeLaunch(project: Project, runId: string, launch: Omit<LaunchRecord, 'v'>): void {
  const file = path.join(project.runs.dir(runId), LAUNCH);
  if (!fs.existsSync(file)) writeJsonAtomic(file, { v: 1, ...launch });
}

/** How to resume `runId`: its launch record, or (for demo runs without one) the demo kind. */
export function readLaunch(project: Project, runId: string): LaunchRecord {
  const file = path.join(project.runs.dir(runId), LAUNCH);
  if (fs.existsSync(file)) return readJsonFile(file, launchRecord);
  if (demoConfigOf(project, runId)) return { v: 1, kind: 'demo' };
  throw new UserError(
    `Run ${runId} was not started from the editor and is not a demo run, so its config file is unknown: resume it with \`rlhf train <stage> --config FILE\` where FILE sets "runId": "${runId}".`,
  );
}

/** The demo config (sentiment or GRPO) a demo run was started with (config.json holds {demo, base}). */
export function demoConfigOf(project: Project, runId: string): DemoConfig | GrpoDemoConfig | undefined {
  const file = path.join(project.runs.dir(runId), 'config.json');
  if (!fs.existsSync(file)) return undefined;
  const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as { demo?: unknown; base?: unknown };
  if (typeof parsed.demo !== 'object' || parsed.demo === null) return undefined;
  const demo = parsed.demo as DemoConfig | GrpoDemoConfig;
  return typeof parsed.base === 'string' && demo.baseModel === undefined ? { ...demo, baseModel: parsed.base } : demo;
}

export const isRunKind = (v: unknown): v is RunKind => typeof v === 'string' && (RUN_KINDS as readonly string[]).includes(v);

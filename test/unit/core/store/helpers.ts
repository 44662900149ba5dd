/** Shared set-up for store tests: a project in a fresh temp folder, and a prompt with a batch. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Project } from '../../../../src/core/store/project';
import type { BatchRecord, SamplingRecord } from '../../../../src/core/store/schemas';

export const SAMPLING: SamplingRecord = { temperature: 0.8, topK: 0, topP: 1, maxNewTokens: 16 };

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-store-'));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export async function tempProject(labeler = 'alice@example.com'): Promise<{ project: Project; dir: string; cleanup: () => void }> {
  const t = tempDir();
  const project = await Project.create(t.dir, { labeler });
  return { project, ...t };
}

/** Adds a prompt and one batch of the given completions for it. */
export async function promptWithBatch(project: Project, prompt: string, completions: readonly string[]): Promise<BatchRecord> {
  const { ids } = await project.prompts.add([prompt]);
  return project.completions.addBatch({
    promptId: ids[0] as string,
    model: { path: 'models/tiny' },
    sampling: SAMPLING,
    seed: 7,
    completions: completions.map((text) => ({ text })),
  });
}

/** A config without a seed gets one from its run id: two runs differ, a resumed run (same id) repeats its seed; a config's own seed wins. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Project } from '../../../../../src/core/store/project';
import { jobFromConfigFile, seedOfRun } from '../../../../../src/core/train/run/configJobs';

test('run seeds: from the run id when the config has none', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-seed-'));
  try {
    const project = await Project.create(dir);
    const file = path.join(dir, 'reward.json');
    fs.writeFileSync(file, JSON.stringify({ model: 'base', steps: 2 }));
    const seedOf = (c: unknown): number => (c as { resolved: { seed: number } }).resolved.seed;
    const a = jobFromConfigFile('reward', file, project);
    const b = jobFromConfigFile('reward', file, project);
    assert.notEqual(a.runId, b.runId);
    assert.notEqual(seedOf(a.config), seedOf(b.config));
    assert.equal(seedOf(a.config), seedOfRun(a.runId));
    const resumed = jobFromConfigFile('reward', file, project, a.runId);
    assert.equal(resumed.runId, a.runId);
    assert.equal(seedOf(resumed.config), seedOf(a.config));
    fs.writeFileSync(file, JSON.stringify({ model: 'base', steps: 2, seed: 5 }));
    assert.equal(seedOf(jobFromConfigFile('reward', file, project).config), 5);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

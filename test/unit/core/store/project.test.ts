import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Project, projectPaths } from '../../../../src/core/store/project';
import { labelerFileStem } from '../../../../src/core/store/ids';
import { tempDir, tempProject } from './helpers';

test('create writes .rlhf/project.json with the current schema; open reads it back', async () => {
  const { project, dir, cleanup } = await tempProject();
  try {
    assert.equal(project.meta.schemaVersion, 1);
    assert.deepEqual(project.meta.settings, { includeImplicit: false, includeSimulated: true });
    assert.ok(fs.statSync(path.join(dir, '.rlhf', 'rankings')).isDirectory());
    assert.match(fs.readFileSync(path.join(dir, '.rlhf', '.gitignore'), 'utf8'), /^\/lock$/m);
    const again = await Project.open(dir);
    assert.deepEqual(again.meta, project.meta);
    assert.deepEqual(again.repairs, []);
    await assert.rejects(Project.create(dir), /already exists/);
  } finally {
    cleanup();
  }
});

test('opening a folder without a project says how to create one', async () => {
  const { dir, cleanup } = tempDir();
  try {
    await assert.rejects(Project.open(dir), (err: Error) => err.name === 'UserError' && /rlhf init/.test(err.message));
  } finally {
    cleanup();
  }
});

test('a project from a newer schema version is refused and left byte-for-byte unchanged', async () => {
  const { dir, cleanup } = await tempProject();
  try {
    const file = projectPaths(dir).projectJson;
    const newer = { ...JSON.parse(fs.readFileSync(file, 'utf8')), schemaVersion: 99, futureField: true };
    fs.writeFileSync(file, JSON.stringify(newer));
    const before = fs.readFileSync(file);
    await assert.rejects(Project.open(dir), /schema version 99.*knows only up to 1.*not changed/);
    assert.deepEqual(fs.readFileSync(file), before);
  } finally {
    cleanup();
  }
});

test('an older project is migrated forward, the old file kept as a .bak', async () => {
  const { dir, cleanup } = await tempProject();
  try {
    const file = projectPaths(dir).projectJson;
    // A version-1 file opened by code whose schema is version 2: the rename of a field.
    const v1 = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    const migrations = [{ from: 1, migrate: (raw: Record<string, unknown>) => ({ ...raw, guidelines: `migrated: ${String(raw.guidelines)}` }) }];
    const project = await Project.open(dir, { migrations, schemaVersion: 2 });
    assert.equal(project.migratedFrom, 1);
    assert.equal(project.meta.guidelines, 'migrated: ');
    assert.equal((project.meta as { schemaVersion: number }).schemaVersion, 2);
    assert.deepEqual(JSON.parse(fs.readFileSync(`${file}.v1.bak`, 'utf8')), v1);
    assert.equal(JSON.parse(fs.readFileSync(file, 'utf8')).schemaVersion, 2);
    // A missing step in the table is our bug, not the user's.
    await assert.rejects(Project.open(dir, { migrations: [], schemaVersion: 3 }), /No migration from project schema 2/);
  } finally {
    cleanup();
  }
});

test('an invalid project.json names the file and the field', async () => {
  const { dir, cleanup } = await tempProject();
  try {
    const file = projectPaths(dir).projectJson;
    const bad = { ...JSON.parse(fs.readFileSync(file, 'utf8')), settings: { includeImplicit: 'yes', includeSimulated: true } };
    fs.writeFileSync(file, JSON.stringify(bad));
    await assert.rejects(Project.open(dir), (err: Error) => err.message.includes(file) && err.message.includes("'settings.includeImplicit'"));
    // An unknown key is named as one, with where it is.
    const good = JSON.parse(fs.readFileSync(file, 'utf8').replace('"yes"', 'false')) as Record<string, unknown>;
    fs.writeFileSync(file, JSON.stringify({ ...good, schemaVersion2: 1 }));
    await assert.rejects(
      Project.open(dir),
      (err: Error) => err.message === `${file}: unknown field 'schemaVersion2' at the top level: remove or rename it. Fix the file (or restore it from version control).`,
    );
  } finally {
    cleanup();
  }
});

test('updateMeta changes settings atomically and they survive reopening', async () => {
  const { project, dir, cleanup } = await tempProject();
  try {
    await project.updateMeta((m) => ({ ...m, guidelines: 'Prefer short answers.', models: { base: 'models/tiny' } }));
    const again = await Project.open(dir);
    assert.equal(again.meta.guidelines, 'Prefer short answers.');
    assert.equal(again.meta.models.base, 'models/tiny');
    assert.deepEqual(
      fs.readdirSync(path.join(dir, '.rlhf')).filter((f) => f.includes('.tmp-')),
      [],
    );
    await assert.rejects(project.updateMeta((m) => ({ ...m, settings: { ...m.settings, labeler: '../../etc\n' } })));
  } finally {
    cleanup();
  }
});

test('the labeler comes from the setting, else project.json, else git user.email', async () => {
  const { dir, cleanup } = tempDir();
  try {
    execFileSync('git', ['init', '-q', dir]);
    execFileSync('git', ['config', 'user.email', 'Dana+rlhf@Example.org'], { cwd: dir });
    const project = await Project.create(dir);
    assert.equal(project.labeler, 'Dana+rlhf@Example.org');
    assert.equal((await Project.open(dir, { labeler: 'bob' })).labeler, 'bob');
    await project.updateMeta((m) => ({ ...m, settings: { ...m.settings, labeler: 'carol' } }));
    assert.equal((await Project.open(dir)).labeler, 'carol');
  } finally {
    cleanup();
  }
});

test('labeler file names are safe and distinct even for hostile or colliding labelers', () => {
  assert.equal(labelerFileStem('bot-1'), 'bot-1');
  const stems = ['../../etc/passwd', 'a/b', 'a_b', 'A_B', '..', '.hidden', 'Alice@Example.com', 'ünïcødé'].map(labelerFileStem);
  for (const s of stems) assert.match(s, /^[a-z0-9][a-z0-9_.-]*$/, s);
  for (const s of stems) assert.ok(!s.includes('..') && !s.includes('/'), s);
  assert.equal(new Set(stems).size, stems.length);
});

test('settings changed by another writer (the CLI, another window) are seen by an open project', async () => {
  const { project, dir, cleanup } = await tempProject();
  try {
    assert.equal(project.meta.settings.includeImplicit, false);
    const other = await Project.open(dir);
    await other.updateMeta((m) => ({ ...m, settings: { ...m.settings, includeImplicit: true, labeler: 'zoe' } }));
    assert.equal(project.meta.settings.includeImplicit, true);
    assert.equal((await Project.open(dir)).labeler, 'zoe');
  } finally {
    cleanup();
  }
});

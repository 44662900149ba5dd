/**
 * The committed JSON schemas (schemas/<stage>.schema.json) match the zod config schemas they are
 * generated from, package.json contributes each one for `.rlhf/configs/<stage>*.json`, and every
 * stage preset's fields are valid config fields.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PROJECT_SCHEMA_PATH, projectSchemaText, schemaPath, schemaText } from '../../../../src/engine/training/jsonSchemas';
import { STAGE_NAMES } from '../../../../src/protocol/stages';
import { STAGE_PRESETS } from '../../../../src/engine/training/presets';
import { dpoFileSchema, grpoFileSchema, ppoFileSchema, rewardFileSchema, rlooFileSchema, sftFileSchema } from '../../../../src/core/train/run/configs';

const ROOT = path.resolve(__dirname, '../../../..');

test('schemas/ is in sync with the zod config schemas (regenerate with npm run schemas)', () => {
  for (const stage of STAGE_NAMES) {
    const file = path.join(ROOT, schemaPath(stage));
    assert.ok(fs.existsSync(file), `${file} is missing: run npm run schemas`);
    assert.equal(fs.readFileSync(file, 'utf8'), schemaText(stage), `${file} is stale: run npm run schemas`);
  }
  // The schema carries the trainer's rules: unknown fields and out-of-range values are errors.
  const ppo = JSON.parse(schemaText('ppo')) as { additionalProperties?: unknown; required?: string[]; properties: Record<string, { minimum?: number; enum?: string[] }> };
  assert.equal(ppo.additionalProperties, false);
  assert.deepEqual(ppo.required?.sort(), ['model', 'rewardModel']);
  assert.deepEqual(ppo.properties.klEstimator?.enum, ['k1', 'k3']);
  // GRPO needs only the policy: the reward model, reward functions or both are checked when the file is read.
  const grpo = JSON.parse(schemaText('grpo')) as { required?: string[]; properties: Record<string, { enum?: string[] }> };
  assert.deepEqual(grpo.required, ['model']);
  assert.deepEqual(grpo.properties.lossAggregation?.enum, ['sequence-mean', 'token-mean', 'constant']);
  const project = path.join(ROOT, PROJECT_SCHEMA_PATH);
  assert.equal(fs.readFileSync(project, 'utf8'), projectSchemaText(), `${project} is stale: run npm run schemas`);
  assert.equal((JSON.parse(projectSchemaText()) as { additionalProperties?: unknown }).additionalProperties, false);
});

test('package.json contributes each schema for .rlhf/configs/<stage>*.json, and one for .rlhf/project.json', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { contributes: { jsonValidation?: { fileMatch: string | string[]; url: string }[] } };
  const entries = pkg.contributes.jsonValidation ?? [];
  for (const stage of STAGE_NAMES) {
    const entry = entries.find((e) => e.url === `./${schemaPath(stage)}`);
    assert.ok(entry, `no jsonValidation entry for ${stage}`);
    assert.deepEqual([entry.fileMatch].flat(), [`**/.rlhf/configs/${stage}*.json`]);
  }
  assert.deepEqual([entries.find((e) => e.url === `./${PROJECT_SCHEMA_PATH}`)?.fileMatch].flat(), ['**/.rlhf/project.json']);
});

test('every stage preset is a valid config once the models are filled in', () => {
  const models = { model: '/m', rewardModel: '/rm', data: 'd.jsonl' };
  const schemas = { sft: sftFileSchema, reward: rewardFileSchema, ppo: ppoFileSchema, rloo: rlooFileSchema, grpo: grpoFileSchema, dpo: dpoFileSchema } as const;
  for (const [stage, presets] of Object.entries(STAGE_PRESETS) as [keyof typeof schemas, (typeof STAGE_PRESETS)[keyof typeof schemas]][]) {
    for (const [name, preset] of Object.entries(presets)) {
      const { model, rewardModel, data } = models;
      const body = stage === 'sft' ? { model, data } : stage === 'ppo' || stage === 'rloo' || stage === 'grpo' ? { model, rewardModel } : { model };
      const parsed = schemas[stage].safeParse({ ...body, ...preset.fields });
      assert.ok(parsed.success, `${stage} preset ${name}: ${parsed.success ? '' : parsed.error.message}`);
    }
  }
});

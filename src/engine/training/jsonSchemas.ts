/**
 * JSON schemas of the stage config files, generated from the zod schemas that validate them
 * (each stage's in src/core/train/stages/registry.ts), so the editor validates and completes `.rlhf/configs/<stage>*.json`
 * with the same rules the trainer applies. The committed files in schemas/ are checked against
 * this by a unit test; regenerate them with `npm run schemas`.
 */
import { z } from 'zod';
import { projectRecord } from '../../core/store/schemas';
import { STAGE_SPECS } from '../../core/train/stages/registry';
import type { StageName } from '../../protocol/stages';

/** Where each stage's schema is committed (relative to the repository root) and contributed from. */
export const schemaPath = (stage: StageName): string => `schemas/${stage}.schema.json`;

export function configJsonSchema(stage: StageName): Record<string, unknown> {
  const schema = z.toJSONSchema(STAGE_SPECS[stage].fileSchema, { target: 'draft-7', io: 'input' }) as Record<string, unknown>;
  return {
    ...schema,
    title: `RLHF Workbench ${stage} config`,
    description: `A ${stage} run's config (rlhf train ${stage} --config FILE, or RLHF: Train … in the editor). Relative paths resolve against this file's folder.`,
  };
}

/** The file's text as committed: pretty JSON with a final newline. */
export const schemaText = (stage: StageName): string => JSON.stringify(configJsonSchema(stage), null, 2) + '\n';

/** `.rlhf/project.json`'s schema, from the zod schema the store reads it with. */
export const PROJECT_SCHEMA_PATH = 'schemas/project.schema.json';

export function projectSchemaText(): string {
  const schema = z.toJSONSchema(projectRecord, { target: 'draft-7', io: 'input' }) as Record<string, unknown>;
  const described = { ...schema, title: 'RLHF Workbench project', description: "An RLHF Workbench project's settings (.rlhf/project.json): its models, labeling guidelines and training sources." };
  return JSON.stringify(described, null, 2) + '\n';
}

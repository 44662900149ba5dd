// Writes schemas/<stage>.schema.json and schemas/project.schema.json from the zod schemas (see src/engine/training/jsonSchemas.ts).
// Usage: npm run schemas
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PROJECT_SCHEMA_PATH, projectSchemaText, schemaPath, schemaText } from '../src/engine/training/jsonSchemas';
import { STAGE_NAMES } from '../src/protocol/stages';

const root = path.resolve(__dirname, '..');
for (const stage of STAGE_NAMES) {
  const file = path.join(root, schemaPath(stage));
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, schemaText(stage));
  console.log(`wrote ${path.relative(root, file)}`);
}
fs.writeFileSync(path.join(root, PROJECT_SCHEMA_PATH), projectSchemaText());
console.log(`wrote ${PROJECT_SCHEMA_PATH}`);

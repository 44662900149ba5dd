/** What the CLI-level training tests share: captured output and config files in a temp project. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CliIo } from '../../../../src/cli/command';

export function capture(cwd: string): { io: CliIo; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t) => out.push(t), err: (t) => err.push(t), cwd, signal: new AbortController().signal }, out, err };
}

export function writeConfig(dir: string, name: string, config: object): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, JSON.stringify(config));
  return file;
}

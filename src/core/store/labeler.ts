/**
 * Who is labeling: an explicit setting wins, then the project's `settings.labeler`, then
 * `git config user.email` run in the workspace, then the OS user name.
 */
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import { UserError } from '../errors';
import { labelerSchema } from './ids';

export function gitUserEmail(cwd: string): string | undefined {
  try {
    const out = execFileSync('git', ['config', 'user.email'], { cwd, encoding: 'utf8', timeout: 3000, stdio: ['ignore', 'pipe', 'ignore'] });
    return out.trim() || undefined;
  } catch {
    // Not a git repository, no git, or no email configured: fall through to the next source.
    return undefined;
  }
}

export function resolveLabeler(workspace: string, ...preferred: (string | undefined)[]): string {
  const chosen = preferred.find((p) => p !== undefined && p.trim() !== '') ?? gitUserEmail(workspace) ?? safeUserName() ?? 'local';
  const parsed = labelerSchema.safeParse(chosen.trim());
  if (!parsed.success) {
    throw new UserError(`The labeler '${chosen}' is not usable: ${parsed.error.issues[0]?.message}. Set the rlhf.labeler setting (or project.json's settings.labeler) to a plain name or email.`);
  }
  return parsed.data;
}

function safeUserName(): string | undefined {
  try {
    return os.userInfo().username || undefined;
  } catch {
    return undefined;
  }
}

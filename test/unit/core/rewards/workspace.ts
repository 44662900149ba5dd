/** A throwaway workspace with .rlhf/rewards/ for the reward tests, and a collector of reported problems. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { RewardProblem, RewardSample } from '../../../../src/core/rewards/types';

export interface TestWorkspace {
  readonly root: string;
  /** Writes .rlhf/<rel> and returns its absolute path. */
  readonly write: (rel: string, text: string) => string;
  readonly remove: () => void;
}

export function testWorkspace(): TestWorkspace {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-rewards-'));
  return {
    root,
    write: (rel, text) => {
      const file = path.join(root, '.rlhf', rel);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, text);
      return file;
    },
    remove: () => fs.rmSync(root, { recursive: true, force: true }),
  };
}

export function problems(): { readonly list: RewardProblem[]; readonly report: (p: RewardProblem) => void } {
  const list: RewardProblem[] = [];
  return { list, report: (p) => void list.push(p) };
}

export const samples = (...completions: string[]): RewardSample[] => completions.map((completion, i) => ({ prompt: `prompt ${i}`, completion }));

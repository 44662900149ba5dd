/**
 * `rlhf demo [--project DIR] [--task sentiment|grpo]`: an embedded pipeline on the shipped tiny
 * model, with progress on the terminal and a summary at the end. The default task ranks by
 * sentiment and trains a reward model and PPO; `--task grpo` trains by GRPO on verifiable
 * rewards (grpoDemo.ts). Re-running it resumes an unfinished demo run of the same task.
 */
import * as path from 'node:path';
import type { CliCommand } from '../command';
import { ENGINE_HELP, ENGINE_OPTIONS, ENGINE_USAGE, applyEngineFlag, backendFlag, stringFlag } from '../command';
import { computeReport } from '../../core/compute/backend';
import { trainingReport } from '../../core/train/ort/device';
import { formatTrainingReport } from '../../protocol/backend';
import { runDemo } from '../../core/demo/demo';
import type { DemoSummary } from '../../core/demo/demo';
import { pct, runGrpoDemo } from '../../core/demo/grpoDemo';
import type { GrpoDemoSummary } from '../../core/demo/grpoDemo';
import { UserError } from '../../core/errors';
import { formatNumber, progressPrinter } from '../progress';

export const demoCommand: CliCommand = {
  name: ['demo'],
  summary: 'Run the default demo: tiny base model → SFT → sample → simulated ranking → reward model → PPO (--task grpo: SFT → GRPO on verifiable rewards).',
  usage: `[--project DIR] [--task sentiment|grpo] ${ENGINE_USAGE} [--backend auto|tensorflow|wasm|cpu] [--json]`,
  help: `  --project DIR   the workspace for the demo project (default: the current folder)\n  --task          sentiment (default): simulated ranking by AFINN sentiment → reward model → PPO;\n                  grpo: GRPO rewarded by a workspace reward function (.rlhf/rewards/nautical.ts) and a regex\n${ENGINE_HELP}\n  --backend       the tfjs backend of the tfjs engine (--engine tfjs)\n  --json          print the summary as JSON at the end`,
  options: { project: { type: 'string' }, task: { type: 'string' }, ...ENGINE_OPTIONS, backend: { type: 'string' }, json: { type: 'boolean' } },
  async run(flags, _p, io) {
    const workspace = path.resolve(io.cwd, stringFlag(flags, 'project') ?? '.');
    const task = stringFlag(flags, 'task') ?? 'sentiment';
    if (task !== 'sentiment' && task !== 'grpo') throw new UserError(`--task must be sentiment or grpo (got ${JSON.stringify(task)}).`);
    const engine = applyEngineFlag(flags);
    const backend = backendFlag(flags);
    // tfjs is loaded (on --backend) only for the tfjs engine.
    const report = await computeReport(engine === 'tfjs', backend);
    const training = await trainingReport(engine, report.backend ?? backend);
    io.out(`RLHF Workbench demo in ${workspace} (${report.backend ? `tfjs ${report.backend}, ` : ''}ONNX Runtime ${report.ortProviders.join(', ')}; training: ${formatTrainingReport(training)})`);
    const print = progressPrinter(io.out, 20);
    const started = Date.now();
    const options = { signal: io.signal, onEvent: (e: Parameters<typeof print>[0] | { type: 'demo'; message: string }) => (e.type === 'demo' ? io.out(e.message) : print(e)) };
    if (task === 'grpo') {
      const summary = await runGrpoDemo(workspace, undefined, options);
      io.out(flags.json ? JSON.stringify(summary, null, 2) : formatGrpoSummary(summary));
    } else {
      const summary = await runDemo(workspace, undefined, options);
      io.out(flags.json ? JSON.stringify(summary, null, 2) : formatSummary(summary));
    }
    if (!flags.json) io.out(`\nfinished in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    return 0;
  },
};

export function formatSummary(s: DemoSummary): string {
  const lines = [
    '',
    '=== demo summary ===',
    `run:                       ${s.runDir}`,
    `SFT model:                 ${s.sftFinal}`,
    `reward model:              ${s.rewardFinal}`,
    `PPO policy:                ${s.policyFinal}`,
    `SFT eval loss:             ${s.finalSftEvalLoss === undefined ? 'n/a' : formatNumber(s.finalSftEvalLoss)}`,
    `reward held-out accuracy:  ${s.rewardEvalAccuracy === undefined ? 'n/a' : `${(s.rewardEvalAccuracy * 100).toFixed(1)}%`}`,
    '',
    'policy, measured by the AFINN scorer (mean per-word sentiment) and KL to the SFT model:',
    `  before PPO (SFT):  score ${formatNumber(s.before.score)}  KL ${formatNumber(s.before.kl)}`,
    `  after PPO:         score ${formatNumber(s.after.score)}  KL ${formatNumber(s.after.kl)}`,
    '',
    'same prompt and seed, before → after PPO:',
  ];
  for (const e of s.beforeAfter) {
    lines.push(`  ${JSON.stringify(e.prompt)}`, `    before ${formatNumber(e.beforeScore)}  ${JSON.stringify(e.before)}`, `    after  ${formatNumber(e.afterScore)}  ${JSON.stringify(e.after)}`);
  }
  lines.push('', 'ranking samples (best and worst of K by the simulated labeler, AFINN score):');
  for (const e of s.examples) {
    lines.push(`  ${JSON.stringify(e.prompt)}`, `    + ${formatNumber(e.bestScore)}  ${JSON.stringify(e.best)}`, `    - ${formatNumber(e.worstScore)}  ${JSON.stringify(e.worst)}`);
  }
  return lines.join('\n');
}

export function formatGrpoSummary(s: GrpoDemoSummary): string {
  const side = (m: GrpoDemoSummary['before']): string =>
    `reward ${formatNumber(m.reward)}  ${Object.entries(m.perFunction)
      .map(([name, v]) => `${name} ${formatNumber(v)}`)
      .join('  ')}  passing both ${pct(m.passAll)}  KL ${formatNumber(m.kl)}`;
  const lines = [
    '',
    '=== GRPO demo summary ===',
    `run:               ${s.runDir}`,
    `SFT model:         ${s.sftFinal}`,
    `GRPO policy:       ${s.policyFinal}`,
    `reward function:   ${s.rewardFile}${s.rewardFileWritten ? ' (written by this demo)' : " (the project's own)"}`,
    '',
    'policy, measured by the reward functions (nautical: speaks of the sea, 0/1; sentence: ends a sentence, 0/1, weight 0.5) and KL to the SFT model:',
    `  before GRPO (SFT):  ${side(s.before)}`,
    `  after GRPO:         ${side(s.after)}`,
    '',
    'same prompt and seed, before → after GRPO:',
  ];
  for (const e of s.beforeAfter) {
    lines.push(`  ${JSON.stringify(e.prompt)}`, `    before ${formatNumber(e.beforeReward)}  ${JSON.stringify(e.before)}`, `    after  ${formatNumber(e.afterReward)}  ${JSON.stringify(e.after)}`);
  }
  return lines.join('\n');
}

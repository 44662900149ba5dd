/**
 * `rlhf demo [--project DIR]`: the embedded default pipeline on the shipped tiny model, with
 * progress on the terminal and a summary at the end. Re-running it resumes an unfinished demo run.
 */
import * as path from 'node:path';
import type { CliCommand } from '../command';
import { ENGINE_HELP, ENGINE_OPTIONS, ENGINE_USAGE, applyEngineFlag, backendFlag, stringFlag } from '../command';
import { computeReport } from '../../core/compute/backend';
import { trainingReport } from '../../core/train/ort/device';
import { formatTrainingReport } from '../../protocol/backend';
import { runDemo } from '../../core/demo/demo';
import type { DemoSummary } from '../../core/demo/demo';
import { formatNumber, progressPrinter } from '../progress';

export const demoCommand: CliCommand = {
  name: ['demo'],
  summary: 'Run the default demo: tiny base model → SFT → sample → simulated ranking → reward model → PPO.',
  usage: `[--project DIR] ${ENGINE_USAGE} [--backend auto|tensorflow|wasm|cpu] [--json]`,
  help: `  --project DIR   the workspace for the demo project (default: the current folder)\n${ENGINE_HELP}\n  --backend       the tfjs backend of the tfjs engine (--engine tfjs)\n  --json          print the summary as JSON at the end`,
  options: { project: { type: 'string' }, ...ENGINE_OPTIONS, backend: { type: 'string' }, json: { type: 'boolean' } },
  async run(flags, _p, io) {
    const workspace = path.resolve(io.cwd, stringFlag(flags, 'project') ?? '.');
    const engine = applyEngineFlag(flags);
    const backend = backendFlag(flags);
    // tfjs is loaded (on --backend) only for the tfjs engine.
    const report = await computeReport(engine === 'tfjs', backend);
    const training = await trainingReport(engine, report.backend ?? backend);
    io.out(`RLHF Workbench demo in ${workspace} (${report.backend ? `tfjs ${report.backend}, ` : ''}ONNX Runtime ${report.ortProviders.join(', ')}; training: ${formatTrainingReport(training)})`);
    const print = progressPrinter(io.out, 20);
    const started = Date.now();
    const summary = await runDemo(workspace, undefined, {
      signal: io.signal,
      onEvent: (e) => (e.type === 'demo' ? io.out(e.message) : print(e)),
    });
    io.out(flags.json ? JSON.stringify(summary, null, 2) : formatSummary(summary));
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

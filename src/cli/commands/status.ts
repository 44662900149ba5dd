import type { CliCommand } from '../command';
import { ENGINE_HELP, ENGINE_OPTIONS, ENGINE_USAGE, applyEngineFlag, backendFlag } from '../command';
import { formatBackendReport, initCompute } from '../../core/compute/backend';
import { trainingReport } from '../../core/train/ort/device';
import { formatTrainingReport } from '../../protocol/backend';

export const statusCommand: CliCommand = {
  name: ['status'],
  summary: 'Report the compute: the training engine, the tfjs backend and version, ONNX Runtime providers.',
  usage: `[--json] ${ENGINE_USAGE} [--backend auto|tensorflow|wasm|cpu]`,
  help: `  --json          print the report as JSON (fields: backend, tfjsVersion, ortProviders, training {engine, device, threads, fallbackReason}, …)\n${ENGINE_HELP}\n  --backend       force a tfjs backend instead of the first of the chain that loads`,
  options: { json: { type: 'boolean' }, ...ENGINE_OPTIONS, backend: { type: 'string' } },
  async run(flags, _positionals, io) {
    const engine = applyEngineFlag(flags);
    const { report } = await initCompute(backendFlag(flags));
    // What really loaded: the device is resolved (and checked) here, as a training run would.
    const training = await trainingReport(engine, report.backend);
    io.out(flags.json ? JSON.stringify({ ...report, training }, null, 2) : `${formatBackendReport(report)}\ntraining: ${formatTrainingReport(training)}`);
    return 0;
  },
};

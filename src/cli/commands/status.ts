import type { CliCommand } from '../command';
import { ENGINE_HELP, ENGINE_OPTIONS, ENGINE_USAGE, applyEngineFlag, backendFlag } from '../command';
import { computeReport, formatBackendReport } from '../../core/compute/backend';
import { trainingReport } from '../../core/train/ort/device';
import { formatTrainingReport } from '../../protocol/backend';

export const statusCommand: CliCommand = {
  name: ['status'],
  summary: 'Report the compute: the training engine and its device, ONNX Runtime providers, and the tfjs backend when tfjs is in use.',
  usage: `[--json] ${ENGINE_USAGE} [--backend auto|tensorflow|wasm|cpu]`,
  help: `  --json          print the report as JSON (fields: ortProviders, training {engine, device, threads, fallbackReason}, … and, with tfjs, backend and tfjsVersion)\n${ENGINE_HELP}\n  --backend       report this tfjs backend (loads tfjs; with --engine tfjs, default auto: the first of the chain that loads)`,
  options: { json: { type: 'boolean' }, ...ENGINE_OPTIONS, backend: { type: 'string' } },
  async run(flags, _positionals, io) {
    const engine = applyEngineFlag(flags);
    const backend = backendFlag(flags);
    // tfjs is loaded for the report only on the tfjs engine, or for a tfjs backend named by --backend.
    const report = await computeReport(engine === 'tfjs' || backend !== 'auto', backend);
    // What really loaded: the device is resolved (and checked) here, as a training run would.
    const training = await trainingReport(engine, report.backend ?? backend);
    io.out(flags.json ? JSON.stringify({ ...report, training }, null, 2) : `${formatBackendReport(report)}\ntraining: ${formatTrainingReport(training)}`);
    return 0;
  },
};

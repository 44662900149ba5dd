import type { CliCommand } from '../command';
import { applyEngineFlag, backendFlag } from '../command';
import { formatBackendReport, initCompute } from '../../core/compute/backend';
import { trainingEngine } from '../../core/train/engine';

export const statusCommand: CliCommand = {
  name: ['status'],
  summary: 'Report the compute: the training engine, the tfjs backend and version, ONNX Runtime providers.',
  usage: '[--json] [--engine ort|tfjs] [--backend auto|tensorflow|wasm|cpu]',
  help: '  --json      print the report as JSON (fields: backend, tfjsVersion, ortProviders, training, …)\n  --engine    the engine for pretraining, SFT and the reward model (default ort)\n  --backend   force a tfjs backend instead of the first of the chain that loads',
  options: { json: { type: 'boolean' }, engine: { type: 'string' }, backend: { type: 'string' } },
  async run(flags, _positionals, io) {
    applyEngineFlag(flags);
    const { report } = await initCompute(backendFlag(flags));
    const engine = trainingEngine();
    // ONNX Runtime picks its threads from the physical cores unless told otherwise.
    const training = { engine: engine.name, device: engine.name === 'ort' ? (engine.options.provider ?? 'cpu') : report.backend, threads: engine.options.threads ?? 'all physical cores' };
    io.out(
      flags.json
        ? JSON.stringify({ ...report, training }, null, 2)
        : `${formatBackendReport(report)}\ntraining (pretrain, SFT, reward): ${training.engine === 'ort' ? `ONNX Runtime on ${training.device}, ${typeof training.threads === 'number' ? `${training.threads} thread(s)` : training.threads}` : `tfjs ${report.backend}`}`,
    );
    return 0;
  },
};

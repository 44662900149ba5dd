import type { CliCommand } from '../command';
import { UsageError, stringFlag } from '../command';
import { isBackendPreference } from '../../protocol/backend';
import { formatBackendReport, initCompute } from '../../core/compute/backend';

export const statusCommand: CliCommand = {
  name: ['status'],
  summary: 'Report the compute backend (tfjs backend and version, ONNX Runtime providers).',
  usage: '[--json] [--backend auto|tensorflow|wasm|cpu]',
  help: '  --json      print the report as JSON (fields: backend, tfjsVersion, ortProviders, …)\n  --backend   force a tfjs backend instead of the first of the chain that loads',
  options: { json: { type: 'boolean' }, backend: { type: 'string' } },
  async run(flags, _positionals, io) {
    const backend = stringFlag(flags, 'backend') ?? 'auto';
    if (!isBackendPreference(backend)) throw new UsageError(`--backend must be one of auto, tensorflow, wasm, cpu; got '${backend}'.`);
    const { report } = await initCompute(backend);
    io.out(flags.json ? JSON.stringify(report, null, 2) : formatBackendReport(report));
    return 0;
  },
};

import type { CliCommand } from '../command';
import { backendFlag } from '../command';
import { formatBackendReport, initCompute } from '../../core/compute/backend';

export const statusCommand: CliCommand = {
  name: ['status'],
  summary: 'Report the compute backend (tfjs backend and version, ONNX Runtime providers).',
  usage: '[--json] [--backend auto|tensorflow|wasm|cpu]',
  help: '  --json      print the report as JSON (fields: backend, tfjsVersion, ortProviders, …)\n  --backend   force a tfjs backend instead of the first of the chain that loads',
  options: { json: { type: 'boolean' }, backend: { type: 'string' } },
  async run(flags, _positionals, io) {
    const { report } = await initCompute(backendFlag(flags));
    io.out(flags.json ? JSON.stringify(report, null, 2) : formatBackendReport(report));
    return 0;
  },
};

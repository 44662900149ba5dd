import type { CliCommand } from '../command';
import { UsageError, stringFlag } from '../command';
import { parseRepoSpec, pullModel } from '../../core/hub/pull';

const mib = (n: number): string => `${(n / 1024 ** 2).toFixed(1)} MiB`;

export const modelPullCommand: CliCommand = {
  name: ['model', 'pull'],
  summary: 'Download a model from the Hugging Face Hub into the Hugging Face cache; prints its folder.',
  usage: 'ORG/NAME [--revision R] [--json]',
  help:
    '  ORG/NAME        the model repo, as on its Hub page (e.g. openai-community/gpt2); ORG/NAME@R = --revision R\n' +
    '  --revision R    branch, tag or commit (default main)\n' +
    '  --json          print the result as one JSON object (progress still goes to stderr)\n\n' +
    'Fetches config.json, generation_config.json, the tokenizer files and the safetensors weights\n' +
    '(PyTorch .bin only when there are no safetensors; never TF/Flax/ONNX/GGUF copies) into\n' +
    '$HF_HOME/hub/models--ORG--NAME (HF_HOME default ~/.cache/huggingface; HF_HUB_CACHE overrides),\n' +
    'the layout transformers reads. Files already there are not fetched again; an interrupted\n' +
    'download resumes. Environment: HF_ENDPOINT (a Hub mirror), HF_TOKEN (private or gated repos),\n' +
    'HF_HUB_OFFLINE=1 (use the cache only). Use the printed folder as models.base in .rlhf/project.json.',
  options: { revision: { type: 'string' }, json: { type: 'boolean' } },
  positionals: true,
  async run(flags, positionals, io) {
    if (positionals.length !== 1) throw new UsageError('give exactly one model repo, ORG/NAME.');
    const spec = parseRepoSpec(positionals[0] as string);
    const revision = stringFlag(flags, 'revision') ?? spec.revision;
    let shown = '';
    const result = await pullModel({
      repo: spec.repo,
      ...(revision !== undefined ? { revision } : {}),
      signal: io.signal,
      progressEveryMs: 1000,
      onProgress: (p) => {
        const finished = p.fileDone === p.fileTotal;
        // Small files show one line when done; large ones also their bytes as they come.
        if (!finished && p.fileTotal < 1024 ** 2) return;
        const line = finished
          ? `[${p.filesDone}/${p.filesTotal}] ${p.file} (${mib(p.fileTotal)})`
          : `  ${p.file}: ${mib(p.fileDone)} / ${mib(p.fileTotal)} — all files ${mib(p.done)} / ${mib(p.total)}`;
        if (line !== shown) io.err(line);
        shown = line;
      },
    });
    if (result.offline) io.err(`${result.endpoint} could not be reached (or HF_HUB_OFFLINE is set): using the cached snapshot.`);
    const resumed = result.files.filter((f) => f.status === 'resumed').length;
    const cached = result.files.filter((f) => f.status === 'cached').length;
    io.err(
      `${result.repo}@${result.revision} (commit ${result.commit.slice(0, 12)}): ${result.files.length} files, ${mib(result.totalBytes)}; ` +
        `fetched ${mib(result.downloadedBytes)}${cached ? `, ${cached} already cached` : ''}${resumed ? `, ${resumed} resumed` : ''}.`,
    );
    io.out(flags.json ? JSON.stringify(result, null, 2) : result.snapshot);
    return 0;
  },
};

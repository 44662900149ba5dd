/**
 * Reproduces assets/demo/prompts.txt: the first four words of Moby-Dick sentences whose
 * continuation carries sentiment by the AFINN lexicon (the simulated labeler's), with no
 * sentiment in the prompt itself, shuffled with a fixed seed.
 *   npx tsx scripts/make-demo-prompts.ts [N] > assets/demo/prompts.txt
 */
import { mobyDickText, sentences } from '../src/core/demo/corpus';
import { afinnScore } from '../src/core/train/labeler';
import { seededRandom } from '../src/core/sample/pick';
import { shuffle } from '../src/core/train/data/batches';

const n = Number(process.argv[2] ?? 1024);
const candidates = sentences(mobyDickText()).filter((s) => {
  const words = s.split(' ');
  const prompt = words.slice(0, 4).join(' ');
  if (words.length < 8 || !/^[A-Z][a-z]/.test(s) || /[;:"_[\]“”‘’—]/.test(prompt) || /[.,!?]$/.test(prompt)) return false;
  return afinnScore(words.slice(4).join(' ').slice(0, 60)) !== 0 && afinnScore(prompt) === 0;
});
shuffle(candidates, seededRandom(2024));
const prompts = new Set<string>();
for (const s of candidates) {
  prompts.add(s.split(' ').slice(0, 4).join(' '));
  if (prompts.size >= n) break;
}
console.log([...prompts].join('\n'));

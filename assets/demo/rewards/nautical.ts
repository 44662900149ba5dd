/**
 * The GRPO demo's reward function (RLHF Workbench copies it to .rlhf/rewards/nautical.ts; edit
 * that copy freely). It checks one thing of each completion: does it speak of the sea? 1 when it
 * names one of the words below (any case, singular or plural), else 0.
 *
 * The contract of a reward function: it gets a batch of samples and returns one number per
 * sample, in order (or a Promise of them). A throw, a timeout, a wrong-length result or a
 * non-finite number is reported with this file's name and the sample, and that sample is
 * skipped; the run goes on.
 */
interface Sample {
  /** The prompt as the policy saw it. */
  readonly prompt: string;
  /** What the policy wrote after it. */
  readonly completion: string;
}

const SEA_WORDS = ['sea', 'ocean', 'whale', 'ship', 'boat', 'wave', 'deck', 'sail', 'harpoon'];
const SEA = new RegExp(`\\b(${SEA_WORDS.join('|')})(s|es)?\\b`, 'i');

export default function nautical(samples: readonly Sample[]): number[] {
  return samples.map((s) => (SEA.test(s.completion) ? 1 : 0));
}

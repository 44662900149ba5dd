/** The training features (UI issue II): run control, curves, samples, status bar. */
import type { FeatureDeps } from './features';

export function registerTrainingFeatures(_deps: FeatureDeps): void {
  // Registered by the training features as they land.
}

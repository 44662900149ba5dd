/** The project, ranking and editor features (UI issue I): commands, panels, providers. */
import type { FeatureDeps } from './features';

export function registerProjectFeatures(_deps: FeatureDeps): void {
  // Registered by the project features as they land.
}

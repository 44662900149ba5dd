/** Handlers for the training requests declared in src/protocol/engineTraining.ts. */
import type { TrainingRequests } from '../protocol/engineTraining';
import type { EngineOptions, HandlersFor } from './handlers';

export function trainingHandlers(_options: EngineOptions): HandlersFor<TrainingRequests> {
  return {};
}

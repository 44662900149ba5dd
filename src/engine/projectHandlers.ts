/** Handlers for the project requests declared in src/protocol/engineProject.ts. */
import type { ProjectRequests } from '../protocol/engineProject';
import type { EngineOptions, HandlersFor } from './handlers';

export function projectHandlers(_options: EngineOptions): HandlersFor<ProjectRequests> {
  return {};
}

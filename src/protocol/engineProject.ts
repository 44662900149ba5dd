/**
 * Engine requests about the workspace project: opening it, prompts, generating completions,
 * rankings (the ranking panel and sidebar). Declared here once; the engine implements them in
 * src/engine/projectHandlers.ts, the host calls them through the EngineClient.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ProjectRequests {}

/**
 * Engine requests and notifications about training runs: start, stop, resume, and the live
 * metric stream for the curves. Declared here once; the engine implements them in
 * src/engine/trainingHandlers.ts.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface TrainingRequests {}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface TrainingNotifications {}

/**
 * The curves panel's message protocol: the only file both the host (src/extension/training/
 * curvesPanel.ts) and the curves app (webview/curves/) import. Commands go webview→host and are
 * untrusted: the host accepts them only through `isCurvesCommand`. Notifications go host→webview:
 * full snapshots (`didChangeRuns`, `didLoadRun`) and appends tagged with their stage and step
 * (`didAppendMetrics`); an append for a (stage, step) the page already has merges into it, its
 * values winning (a resumed run redoes the steps after its last checkpoint; eval metrics come as
 * a second record at a step).
 */
import { hasKeys, isRecord, isSafeId } from './guards';
import type { MetricPoint, RunInfo, SamplePoint } from './engineTraining';
import type { StageName } from './stages';

/** The run training now, as the status bar and the panel header show it. */
export interface LiveRun {
  readonly runId: string;
  readonly stage: StageName;
  readonly step: number;
  /** The newest objective/scores (policy) or reward/accuracy (reward model) value, if any. */
  readonly reward?: number;
}

/** What the page keeps across reloads (getState/setState) and the serializer restores. */
export interface CurvesViewState {
  /** EMA weight in [0, 0.99]: 0 draws the raw series only. */
  readonly smoothing: number;
  readonly xAxis: 'step' | 'time';
  /** Runs drawn, overlaid; the first one's samples fill the table. */
  readonly runs: readonly string[];
  /** Metric groups folded away. */
  readonly collapsed: readonly string[];
  /** Series hidden from the legend, as '<runId> <stage>'. */
  readonly hidden: readonly string[];
}

export const DEFAULT_VIEW: CurvesViewState = { smoothing: 0.6, xAxis: 'step', runs: [], collapsed: [], hidden: [] };

/** Bootstrapped into the page: everything it needs to draw at once. */
export interface CurvesBootstrap {
  readonly view: CurvesViewState;
  readonly runs: readonly RunInfo[];
  readonly live?: LiveRun;
  /** Snapshots of the runs in view.runs. */
  readonly series: Readonly<Record<string, readonly MetricPoint[]>>;
  readonly samples: Readonly<Record<string, readonly SamplePoint[]>>;
  readonly error?: string;
}

export type CurvesCommand =
  | { readonly type: 'ready' }
  /** The runs to draw (the host sends a snapshot of each it has not sent yet). */
  | { readonly type: 'selectRuns'; readonly runIds: readonly string[] }
  | { readonly type: 'exportCsv'; readonly fileName: string; readonly csv: string }
  | { readonly type: 'exportPng'; readonly fileName: string; readonly dataUrl: string }
  | { readonly type: 'stopRun'; readonly runId: string }
  | { readonly type: 'resumeRun'; readonly runId: string }
  /** The view changed: the host keeps it for the next time the panel opens. */
  | { readonly type: 'saveView'; readonly view: CurvesViewState };

export type CurvesNotification =
  /** The run list; `focus` (e.g. from RLHF: Show Curves <run>) joins the runs drawn. */
  | { readonly type: 'didChangeRuns'; readonly runs: readonly RunInfo[]; readonly live?: LiveRun; readonly focus?: string }
  | { readonly type: 'didLoadRun'; readonly runId: string; readonly points: readonly MetricPoint[]; readonly samples: readonly SamplePoint[] }
  /** New points; `live` (when the run is training) keeps the page's live line with its curves. */
  | { readonly type: 'didAppendMetrics'; readonly runId: string; readonly points: readonly MetricPoint[]; readonly live?: LiveRun }
  | { readonly type: 'didAppendSamples'; readonly runId: string; readonly samples: readonly SamplePoint[] }
  | { readonly type: 'didFail'; readonly message: string }
  /** The panel was shown again: a page still alive says ready again and resyncs. */
  | { readonly type: 'didAskReady' };

/** Limits on what the page may send: a CSV/PNG export of a long run is a few MB at most. */
export const MAX_EXPORT_CHARS = 64 * 1024 * 1024;
export const MAX_SELECTED_RUNS = 8;
/** An export's file name: an id-like name ending in .csv or .png. */
const isExportName = (v: unknown, ext: 'csv' | 'png'): v is string => isSafeId(v) && v.endsWith(`.${ext}`);
export const isRunId = isSafeId;

/** Narrow an untrusted webview message: a known `type`, exactly its fields, each well-formed. */
export function isCurvesCommand(msg: unknown): msg is CurvesCommand {
  if (!isRecord(msg)) return false;
  switch (msg.type) {
    case 'ready':
      return hasKeys(msg, ['type']);
    case 'selectRuns':
      return hasKeys(msg, ['type', 'runIds']) && Array.isArray(msg.runIds) && msg.runIds.length <= MAX_SELECTED_RUNS && msg.runIds.every(isRunId);
    case 'exportCsv':
      return hasKeys(msg, ['type', 'fileName', 'csv']) && isExportName(msg.fileName, 'csv') && typeof msg.csv === 'string' && msg.csv.length <= MAX_EXPORT_CHARS;
    case 'exportPng':
      return (
        hasKeys(msg, ['type', 'fileName', 'dataUrl']) &&
        isExportName(msg.fileName, 'png') &&
        typeof msg.dataUrl === 'string' &&
        msg.dataUrl.length <= MAX_EXPORT_CHARS &&
        /^data:image\/png;base64,[A-Za-z0-9+/]+=*$/.test(msg.dataUrl)
      );
    case 'stopRun':
    case 'resumeRun':
      return hasKeys(msg, ['type', 'runId']) && isRunId(msg.runId);
    case 'saveView':
      return hasKeys(msg, ['type', 'view']) && isViewState(msg.view);
    default:
      return false;
  }
}

const NOTIFICATION_TYPES: ReadonlySet<string> = new Set<CurvesNotification['type']>(['didChangeRuns', 'didLoadRun', 'didAppendMetrics', 'didAppendSamples', 'didFail', 'didAskReady']);

export function isCurvesNotification(msg: unknown): msg is CurvesNotification {
  return isRecord(msg) && typeof msg.type === 'string' && NOTIFICATION_TYPES.has(msg.type);
}

function isViewState(v: unknown): v is CurvesViewState {
  if (!isRecord(v) || !hasKeys(v, ['smoothing', 'xAxis', 'runs', 'collapsed', 'hidden'])) return false;
  const strings = (x: unknown, max: number): boolean => Array.isArray(x) && x.length <= max && x.every((s) => typeof s === 'string' && s.length <= 300);
  return (
    typeof v.smoothing === 'number' &&
    v.smoothing >= 0 &&
    v.smoothing <= 0.99 &&
    (v.xAxis === 'step' || v.xAxis === 'time') &&
    strings(v.runs, MAX_SELECTED_RUNS) &&
    (v.runs as string[]).every(isRunId) &&
    strings(v.collapsed, 50) &&
    strings(v.hidden, 500)
  );
}

/** Validates persisted view state (it comes back from the webview on restore). */
export function toViewState(v: unknown): CurvesViewState {
  if (!isRecord(v)) return DEFAULT_VIEW;
  const strings = (x: unknown, max: number): string[] => (Array.isArray(x) ? x.filter((s): s is string => typeof s === 'string' && s.length <= 300).slice(0, max) : []);
  const smoothing = typeof v.smoothing === 'number' && v.smoothing >= 0 && v.smoothing <= 0.99 ? v.smoothing : DEFAULT_VIEW.smoothing;
  return {
    smoothing,
    xAxis: v.xAxis === 'time' ? 'time' : 'step',
    runs: strings(v.runs, MAX_SELECTED_RUNS).filter(isRunId),
    collapsed: strings(v.collapsed, 50),
    hidden: strings(v.hidden, 500),
  };
}

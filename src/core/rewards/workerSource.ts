/**
 * The program a reward module's worker runs (`new Worker(WORKER_SOURCE, { eval: true })`): kept
 * as plain JavaScript text so it is the same under tsx and in the esbuild bundles, with no file of
 * its own to ship. It compiles the bundled module (source maps on, so a stack names the .ts line),
 * picks the export, then scores one batch per message and checks what came back: an array, one
 * entry per sample, each a finite number. Only numbers and strings go back to the host, never the
 * function's own values.
 *
 * workerData: { code, filename, exportName }. Messages:
 *   worker → host  { type: 'ready' } | { type: 'load-error', message }
 *   host → worker  { id, samples }
 *   worker → host  { type: 'scores', id, scores: (number | null)[], bad: [index, what][] }
 *                | { type: 'fault', id, message }     (not an array, or the wrong length)
 *                | { type: 'threw', id, message }     (it threw or its promise rejected)
 */
export const WORKER_SOURCE = String.raw`
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const Module = require('node:module');
const path = require('node:path');

process.setSourceMapsEnabled(true);
// A promise the function left behind must not end the worker between batches.
process.on('unhandledRejection', (e) => console.error('reward module: unhandled rejection: ' + describeError(e)));

function describe(v) {
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' || v === undefined || v === null) return String(v);
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : 'a ' + typeof v;
}

// The first stack frame in a file (not the worker's own code, not Node's): "/abs/file.ts:3:9".
function userFrame(stack) {
  for (const line of String(stack).split('\n').slice(1)) {
    const m = /\(?((?:\/|[A-Za-z]:\\|file:\/\/)[^()]*?:\d+:\d+)\)?\s*$/.exec(line);
    if (m) return m[1];
  }
  return undefined;
}

function describeError(e) {
  if (e instanceof Error) {
    const at = userFrame(e.stack);
    return (e.name || 'Error') + ': ' + e.message + (at ? ' (at ' + at + ')' : '');
  }
  return 'a non-Error value: ' + describe(e);
}

// The bundled module's exports (it is CommonJS: esbuild's output, format cjs).
function compile() {
  const { code, filename } = workerData;
  const m = new Module(filename, null);
  m.filename = filename;
  m.paths = Module._nodeModulePaths(path.dirname(filename));
  m._compile(code, filename);
  return m.exports;
}

// "default" is the default export, or the module itself when it is a function (module.exports = fn).
function pick(ex, name) {
  if (name === 'default') return ex && typeof ex.default === 'function' ? ex.default : typeof ex === 'function' ? ex : undefined;
  return ex && typeof ex[name] === 'function' ? ex[name] : undefined;
}

function missing(ex, name) {
  const names = ex ? Object.keys(ex).filter((k) => typeof ex[k] === 'function') : [];
  return (name === 'default' ? 'has no default export that is a function' : 'has no exported function "' + name + '"') + ' (its exported functions: ' + (names.length ? names.join(', ') : 'none') + ')';
}

let fn;
try {
  const ex = compile();
  fn = pick(ex, workerData.exportName);
  if (!fn) parentPort.postMessage({ type: 'load-error', message: missing(ex, workerData.exportName) });
} catch (e) {
  parentPort.postMessage({ type: 'load-error', message: 'threw while loading: ' + describeError(e) });
}

if (fn) {
  parentPort.on('message', async ({ id, samples }) => {
    let result;
    try {
      result = await fn(samples);
    } catch (e) {
      parentPort.postMessage({ type: 'threw', id, message: describeError(e) });
      return;
    }
    if (!Array.isArray(result)) {
      parentPort.postMessage({ type: 'fault', id, message: 'returned ' + describe(result) + ', not an array of numbers' });
      return;
    }
    if (result.length !== samples.length) {
      parentPort.postMessage({ type: 'fault', id, message: 'returned ' + result.length + ' scores for ' + samples.length + ' samples' });
      return;
    }
    const scores = [];
    const bad = [];
    for (let i = 0; i < result.length; i++) {
      const v = result[i];
      if (typeof v === 'number' && Number.isFinite(v)) scores.push(v);
      else {
        scores.push(null);
        bad.push([i, describe(v)]);
      }
    }
    parentPort.postMessage({ type: 'scores', id, scores, bad });
  });
  parentPort.postMessage({ type: 'ready' });
}
`;

/**
 * Where inline completions may run, whatever the user's file patterns say: only files inside
 * the project's workspace folder, never the project's own data (.rlhf/), editor or git state
 * (.vscode/, .git/), or settings files. The extension host checks it before asking for a
 * suggestion and the engine again before storing one, so text from anywhere else is never
 * written to the project. Part of `inline.complete`'s contract (engineProject.ts); plain
 * string work on either separator, so it runs in any of them.
 */
const PRIVATE_FOLDERS = new Set(['.rlhf', '.vscode', '.git']);

/** An absolute path's segments, `.` and `..` resolved; undefined for a relative path. Either separator (the host may run on Windows). */
function segments(p: string): string[] | undefined {
  if (!/^([a-zA-Z]:)?[\\/]/.test(p)) return undefined;
  const out: string[] = [];
  for (const s of p.split(/[\\/]+/)) {
    if (s === '' || s === '.') continue;
    if (s === '..') out.pop();
    else out.push(s);
  }
  return out;
}

/** Why inline completions may not run in `file` (undefined: they may). */
export function inlineRefusal(file: string, workspace: string): string | undefined {
  const f = segments(file);
  const w = segments(workspace);
  // Windows paths (a drive letter) compare without case.
  const same = (a: string, b: string): boolean => (/^[a-zA-Z]:/.test(workspace) ? a.toLowerCase() === b.toLowerCase() : a === b);
  if (!f || !w || f.length <= w.length || !w.every((s, i) => same(s, f[i] as string))) return `${file} is outside the workspace folder ${workspace}`;
  const first = f[w.length] as string;
  if (PRIVATE_FOLDERS.has(first)) return `${file} is in ${first}/`;
  const base = (f[f.length - 1] as string).toLowerCase();
  if (base === 'settings.json' || base.endsWith('.code-workspace')) return `${file} is a settings file`;
  return undefined;
}

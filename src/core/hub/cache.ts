/**
 * The Hugging Face cache layout, as huggingface_hub and transformers read it:
 *
 *   $HF_HUB_CACHE (default $HF_HOME/hub, HF_HOME default ~/.cache/huggingface)
 *     models--ORG--NAME/
 *       blobs/<etag>                 one file's bytes (<etag>.incomplete while downloading)
 *       snapshots/<commit>/<path>    relative symlink to ../../blobs/<etag> (a copy where links fail)
 *       refs/<revision>              the commit the revision (branch, tag) pointed at
 *
 * Folder naming and the cache root come from @huggingface/hub, so a model pulled here is found by
 * Python's `from_pretrained("ORG/NAME")` and by the Hub library, and the other way round.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { getHFHubCachePath, getRepoFolderName } from '@huggingface/hub';

/** The hub cache root: HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub (HF_HOME: ~/.cache/huggingface). */
export function hubCacheDir(): string {
  return getHFHubCachePath();
}

export interface RepoCache {
  /** models--ORG--NAME */
  readonly dir: string;
  blob(etag: string): string;
  snapshot(commit: string): string;
  ref(revision: string): string;
}

export function repoCache(cacheDir: string, repo: string): RepoCache {
  const dir = path.join(cacheDir, getRepoFolderName({ type: 'model', name: repo }));
  return {
    dir,
    blob: (etag) => path.join(dir, 'blobs', etag),
    snapshot: (commit) => path.join(dir, 'snapshots', commit),
    ref: (revision) => path.join(dir, 'refs', ...revision.split('/')),
  };
}

/** The commit `refs/<revision>` records, if any. */
export function readRef(cache: RepoCache, revision: string): string | undefined {
  try {
    const commit = fs.readFileSync(cache.ref(revision), 'utf8').trim();
    return commit || undefined;
  } catch {
    return undefined;
  }
}

export function writeRef(cache: RepoCache, revision: string, commit: string): void {
  const file = cache.ref(revision);
  if (readRef(cache, revision) === commit) return;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, commit);
  fs.renameSync(tmp, file);
}

/** Size of the file at `p` (following links), or undefined when it is not there. */
export function sizeOf(p: string): number | undefined {
  try {
    const s = fs.statSync(p);
    return s.isFile() ? s.size : undefined;
  } catch {
    return undefined;
  }
}

/** Points snapshots/<commit>/<path> at its blob: a relative symlink, or a copy where links are not allowed. */
export function linkBlob(blobPath: string, pointerPath: string): void {
  fs.mkdirSync(path.dirname(pointerPath), { recursive: true });
  fs.rmSync(pointerPath, { force: true });
  try {
    fs.symlinkSync(path.relative(path.dirname(pointerPath), blobPath), pointerPath);
  } catch {
    fs.copyFileSync(blobPath, pointerPath);
  }
}

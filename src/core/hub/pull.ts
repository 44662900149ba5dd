/**
 * Pulls a model repo from the Hugging Face Hub (or a mirror at HF_ENDPOINT) into the standard
 * Hugging Face cache (cache.ts): the revision is resolved to a commit and the repo listed with
 * @huggingface/hub; the files a workbench model needs (config, tokenizer, safetensors weights) are
 * fetched from `{endpoint}/{repo}/resolve/{commit}/{path}`. A file already in the snapshot is not
 * fetched again; a partial blob (`blobs/<etag>.incomplete`) is continued with a Range request; LFS
 * files are checked against their sha256. HF_TOKEN (or the token `huggingface-cli login` saved) is
 * sent for private and gated repos. Every failure the user can fix is a UserError that names the
 * repo, the endpoint and what to do.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { HUB_URL, HubApiError, listFiles, modelInfo } from '@huggingface/hub';
import { UserError, isAbortError } from '../errors';
import { hubCacheDir, linkBlob, readRef, repoCache, sizeOf, writeRef } from './cache';
import type { RepoCache } from './cache';

export interface PullOptions {
  /** ORG/NAME (a name without an org, e.g. gpt2, works as on the Hub). */
  readonly repo: string;
  /** Branch, tag or commit; default main. */
  readonly revision?: string;
  /** Which repo files to fetch (default: selectModelFiles). */
  readonly select?: (paths: readonly string[]) => string[];
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: PullProgress) => void;
  /** Least time between two progress calls for the same file (default 100 ms; 0: every chunk). */
  readonly progressEveryMs?: number;
}

export interface PullProgress {
  /** The file being fetched. */
  readonly file: string;
  readonly fileDone: number;
  readonly fileTotal: number;
  /** Bytes of every selected file, those already on disk included. */
  readonly done: number;
  readonly total: number;
  /** Files finished (cached or fetched) and selected. */
  readonly filesDone: number;
  readonly filesTotal: number;
}

export interface PulledFile {
  readonly path: string;
  readonly size: number;
  /** cached: already in the snapshot or blobs; downloaded: fetched whole; resumed: continued from `resumedFrom` bytes. */
  readonly status: 'cached' | 'downloaded' | 'resumed';
  readonly resumedFrom?: number;
}

export interface PullResult {
  readonly repo: string;
  readonly revision: string;
  readonly commit: string;
  readonly endpoint: string;
  /** snapshots/<commit>: a model folder (config.json, tokenizer, weights). */
  readonly snapshot: string;
  readonly files: readonly PulledFile[];
  readonly totalBytes: number;
  /** Bytes fetched over the network by this pull. */
  readonly downloadedBytes: number;
  /** True when the endpoint could not be reached (or HF_HUB_OFFLINE is set) and the cached snapshot was used. */
  readonly offline: boolean;
}

const REPO_ID = /^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,95}\/)?[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;
const COMMIT = /^[0-9a-f]{40}$/;
const SHA256 = /^[0-9a-f]{64}$/;

/** Files a workbench model folder uses, at the repo's top level. */
const MODEL_FILES = new Set([
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'added_tokens.json',
  'vocab.json',
  'merges.txt',
  'vocab.txt',
  'tokenizer.model',
]);

/**
 * The default selection: config, generation config, tokenizer files, and the weights as
 * safetensors (with their index). Only when a repo has no safetensors are PyTorch `.bin` weights
 * taken; TensorFlow, Flax, ONNX and GGUF copies, and files in subfolders, are never fetched.
 */
export function selectModelFiles(paths: readonly string[]): string[] {
  const top = paths.filter((p) => !p.includes('/'));
  const safetensors = top.filter((p) => p.endsWith('.safetensors') || p === 'model.safetensors.index.json');
  const weights = safetensors.some((p) => p.endsWith('.safetensors')) ? safetensors : top.filter((p) => /^pytorch_model.*\.bin$/.test(p) || p === 'pytorch_model.bin.index.json');
  return [...top.filter((p) => MODEL_FILES.has(p)), ...weights];
}

/** The endpoint pulls go to: HF_ENDPOINT (a mirror), else https://huggingface.co. */
export function hubEndpoint(): string {
  const e = process.env.HF_ENDPOINT?.trim();
  return (e || HUB_URL).replace(/\/+$/, '');
}

/** HF_TOKEN, HUGGING_FACE_HUB_TOKEN, else the token file `huggingface-cli login` writes ($HF_HOME/token). */
function hubToken(): string | undefined {
  const env = process.env.HF_TOKEN?.trim() || process.env.HUGGING_FACE_HUB_TOKEN?.trim();
  if (env) return env;
  const home = process.env.HF_HOME ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(process.env.HOME ?? process.env.USERPROFILE ?? '', '.cache'), 'huggingface');
  try {
    return fs.readFileSync(process.env.HF_TOKEN_PATH ?? path.join(home, 'token'), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** `ORG/NAME[@revision]` as typed in the extension's input box. */
export function parseRepoSpec(spec: string): { repo: string; revision?: string } {
  const s = spec.trim();
  const at = s.indexOf('@');
  const repo = at < 0 ? s : s.slice(0, at);
  const revision = at < 0 ? undefined : s.slice(at + 1);
  return { repo, ...(revision ? { revision } : {}) };
}

function checkRepo(repo: string, revision: string): void {
  if (!REPO_ID.test(repo) || repo.includes('..')) {
    throw new UserError(`'${repo}' is not a Hub model id: write it as ORG/NAME (for example openai-community/gpt2), as on the model's Hub page.`);
  }
  if (!revision || revision.length > 200 || /\s|\\|\.\.|^\/|\/$/.test(revision)) {
    throw new UserError(`'${revision}' is not a revision: give a branch, tag or commit (default main).`);
  }
}

interface Ctx {
  readonly repo: string;
  readonly revision: string;
  readonly endpoint: string;
  readonly token: string | undefined;
}

const WHAT_TO_DO_OFFLINE = 'Check the connection, or set HF_ENDPOINT to a Hub mirror you can reach; or use a model already on disk (RLHF: Use a Model Folder…, or models.base in .rlhf/project.json).';

/** The error the user sees for a failed Hub call: what failed, for which repo at which endpoint, and what to do. */
function hubError(err: unknown, ctx: Ctx, during: string): unknown {
  if (isAbortError(err)) return err;
  if (err instanceof HubApiError) {
    const at = `${ctx.repo} at ${ctx.endpoint}`;
    const detail = err.message.replace(/\. URL: .*$/, '');
    if (err.statusCode === 401) {
      return new UserError(
        ctx.token
          ? `The Hub refused the token for ${at} (401: ${detail}). Check HF_TOKEN is a valid token with read access, and the repo name.`
          : `${at} needs a token (401: ${detail}): it does not exist, or it is private or gated. Check the name; for a private or gated model, set HF_TOKEN to a read token (and accept the model's terms on its Hub page).`,
      );
    }
    if (err.statusCode === 403) {
      return new UserError(`${at}: access denied (403: ${detail}). For a gated model, request access on ${ctx.endpoint}/${ctx.repo} and set HF_TOKEN to a token of the account that was granted it.`);
    }
    if (err.statusCode === 404) {
      if (/revision|rev id/i.test(detail)) return new UserError(`${at} has no revision '${ctx.revision}' (404). Give a branch, tag or commit that exists (default main).`);
      return new UserError(`${at} was not found (404 during ${during}). Check the name (ORG/NAME, as on the model's Hub page) and HF_ENDPOINT; a private repo also needs HF_TOKEN.`);
    }
    return new UserError(`The Hub at ${ctx.endpoint} answered ${err.statusCode} during ${during} of ${ctx.repo}: ${detail}. Try again later; ${WHAT_TO_DO_OFFLINE}`);
  }
  const code = networkCode(err);
  if (code) return new UserError(`Cannot reach the Hugging Face Hub at ${ctx.endpoint} to download ${ctx.repo} (${code}). ${WHAT_TO_DO_OFFLINE}`);
  return err;
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE']);

/** The network failure behind a fetch error (ECONNREFUSED, ENOTFOUND, a dropped connection, a refused port), if it is one. */
function networkCode(err: unknown): string | undefined {
  let fetchFailed = false;
  let last: Error | undefined;
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (NETWORK_CODES.has(code) || code.startsWith('UND_ERR_'))) return code;
    if (e instanceof TypeError && /^(fetch failed|terminated)$/.test(e.message)) fetchFailed = true;
    last = e;
  }
  // fetch rejects with TypeError('fetch failed') for every network failure; its cause says which.
  return fetchFailed ? (last?.message ?? 'fetch failed') : undefined;
}

/** fetch with the token and the pull's AbortSignal; the library's calls go through it too. */
function makeFetch(token: string | undefined, signal: AbortSignal | undefined): typeof fetch {
  return (input, init) => {
    const headers = new Headers(init?.headers);
    if (token && !headers.has('authorization')) headers.set('authorization', `Bearer ${token}`);
    return fetch(input, { ...init, headers, ...(signal ? { signal } : {}) });
  };
}

interface RepoFile {
  readonly path: string;
  readonly size: number;
  readonly etag: string;
  /** The content's sha256 (LFS files), checked after download. */
  readonly sha256?: string;
}

/** Downloads the selected files of `repo` at `revision` into the HF cache; returns the snapshot folder. */
export async function pullModel(options: PullOptions): Promise<PullResult> {
  const revision = options.revision?.trim() || 'main';
  const repo = options.repo.trim();
  checkRepo(repo, revision);
  const ctx: Ctx = { repo, revision, endpoint: hubEndpoint(), token: hubToken() };
  const cache = repoCache(hubCacheDir(), repo);
  const signal = options.signal;
  const hubFetch = makeFetch(ctx.token, signal);
  const lib = { hubUrl: ctx.endpoint, fetch: hubFetch };

  if (process.env.HF_HUB_OFFLINE === '1' || process.env.HF_HUB_OFFLINE === 'true') {
    const cached = cachedSnapshot(cache, ctx);
    if (cached) return cached;
    throw new UserError(
      `HF_HUB_OFFLINE is set and ${repo}@${revision} is not in the cache (${cache.dir}). Unset HF_HUB_OFFLINE to download it; or use a model already on disk (RLHF: Use a Model Folder…, or models.base in .rlhf/project.json).`,
    );
  }

  let commit: string;
  let listed: RepoFile[];
  try {
    const info = await modelInfo({ name: repo, revision, additionalFields: ['sha'], ...lib });
    if (typeof info.sha !== 'string' || !COMMIT.test(info.sha)) throw new UserError(`The Hub at ${ctx.endpoint} did not say which commit ${repo}@${revision} is (got ${JSON.stringify(info.sha)}).`);
    commit = info.sha;
    listed = [];
    for await (const f of listFiles({ repo: { type: 'model', name: repo }, revision: commit, recursive: true, ...lib })) {
      if (f.type !== 'file') continue;
      const etag = f.lfs?.oid ?? f.oid;
      if (!etag || !/^[0-9a-f]{40,64}$/.test(etag)) throw new UserError(`The Hub at ${ctx.endpoint} listed ${repo}/${f.path} without a usable id (oid ${JSON.stringify(etag)}).`);
      listed.push({ path: f.path, size: f.lfs?.size ?? f.size, etag, ...(f.lfs && SHA256.test(f.lfs.oid) ? { sha256: f.lfs.oid } : {}) });
    }
  } catch (err) {
    signal?.throwIfAborted();
    const mapped = hubError(err, ctx, 'the lookup');
    // Unreachable: a snapshot pulled before still serves (as huggingface_hub falls back to its cache).
    if (mapped instanceof UserError && networkCode(err)) {
      const cached = cachedSnapshot(cache, ctx);
      if (cached) return cached;
    }
    throw mapped;
  }

  const byPath = new Map(listed.map((f) => [f.path, f]));
  if (!byPath.has('config.json')) {
    throw new UserError(
      `${repo}@${revision} at ${ctx.endpoint} has no config.json at its top level, so it is not a transformers model folder. Pick the repo of the model itself (not a GGUF or ONNX conversion).`,
    );
  }
  const selected = (options.select ?? selectModelFiles)([...byPath.keys()]).map((p) => byPath.get(p) as RepoFile);
  for (const f of selected) safeRelative(f.path);
  if (revision !== commit) writeRef(cache, revision, commit);

  const snapshot = cache.snapshot(commit);
  const total = selected.reduce((s, f) => s + f.size, 0);
  let done = 0;
  let downloadedBytes = 0;
  const files: PulledFile[] = [];
  const every = options.progressEveryMs ?? 100;
  for (const [i, f] of selected.entries()) {
    signal?.throwIfAborted();
    const pointer = path.join(snapshot, ...f.path.split('/'));
    const blob = cache.blob(f.etag);
    let lastReport = 0;
    const report = (fileDone: number, force: boolean): void => {
      const now = Date.now();
      if (!options.onProgress || (!force && now - lastReport < every)) return;
      lastReport = now;
      options.onProgress({ file: f.path, fileDone, fileTotal: f.size, done: done + fileDone, total, filesDone: i + (force && fileDone === f.size ? 1 : 0), filesTotal: selected.length });
    };
    if (sizeOf(pointer) === f.size) {
      files.push({ path: f.path, size: f.size, status: 'cached' });
    } else if (sizeOf(blob) === f.size) {
      linkBlob(blob, pointer);
      files.push({ path: f.path, size: f.size, status: 'cached' });
    } else {
      report(0, true);
      const got = await fetchBlob(f, blob, commit, ctx, hubFetch, signal, (n) => report(n, false));
      downloadedBytes += got.fetched;
      linkBlob(blob, pointer);
      files.push({ path: f.path, size: f.size, status: got.resumedFrom ? 'resumed' : 'downloaded', ...(got.resumedFrom ? { resumedFrom: got.resumedFrom } : {}) });
    }
    report(f.size, true);
    done += f.size;
  }
  return { repo, revision, commit, endpoint: ctx.endpoint, snapshot, files, totalBytes: total, downloadedBytes, offline: false };
}

/** A repo path must stay inside the snapshot folder. */
function safeRelative(p: string): void {
  const parts = p.split('/');
  if (p.startsWith('/') || p.includes('\\') || parts.some((s) => s === '' || s === '.' || s === '..')) {
    throw new UserError(`The Hub listed a file path that leaves the model folder: ${JSON.stringify(p)}. Not downloading it.`);
  }
}

/** The snapshot refs/<revision> (or the commit given) points at, when it is on disk with a config.json. */
function cachedSnapshot(cache: RepoCache, ctx: Ctx): PullResult | undefined {
  const commit = COMMIT.test(ctx.revision) ? ctx.revision : readRef(cache, ctx.revision);
  if (!commit) return undefined;
  const snapshot = cache.snapshot(commit);
  if (sizeOf(path.join(snapshot, 'config.json')) === undefined) return undefined;
  const files: PulledFile[] = [];
  const walk = (dir: string, rel: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(p, r);
      else {
        const size = sizeOf(p);
        if (size !== undefined) files.push({ path: r, size, status: 'cached' });
      }
    }
  };
  walk(snapshot, '');
  const totalBytes = files.reduce((s, f) => s + f.size, 0);
  return { repo: ctx.repo, revision: ctx.revision, commit, endpoint: ctx.endpoint, snapshot, files, totalBytes, downloadedBytes: 0, offline: true };
}

/**
 * Fetches one file into blobs/<etag>: continues blobs/<etag>.incomplete with `Range: bytes=N-`
 * when there is one (starting over if the server ignores the range), writes as bytes arrive (so a
 * dropped connection keeps what came), checks size and sha256, then renames it into place.
 */
async function fetchBlob(
  f: RepoFile,
  blob: string,
  commit: string,
  ctx: Ctx,
  hubFetch: typeof fetch,
  signal: AbortSignal | undefined,
  onBytes: (fileDone: number) => void,
): Promise<{ fetched: number; resumedFrom: number }> {
  const incomplete = `${blob}.incomplete`;
  fs.mkdirSync(path.dirname(blob), { recursive: true });
  let have = sizeOf(incomplete) ?? 0;
  if (have > f.size) {
    fs.rmSync(incomplete, { force: true });
    have = 0;
  }
  const url = `${ctx.endpoint}/${ctx.repo}/resolve/${commit}/${f.path.split('/').map(encodeURIComponent).join('/')}`;
  let fetched = 0;
  let resumedFrom = 0;
  if (have < f.size) {
    let res: Response;
    try {
      res = await hubFetch(url, have > 0 ? { headers: { Range: `bytes=${have}-` } } : {});
    } catch (err) {
      signal?.throwIfAborted();
      throw hubError(err, ctx, `the download of ${f.path}`);
    }
    if (res.status === 416 && have > 0) {
      // The partial file does not fit what the server has: start over next time.
      await res.body?.cancel();
      fs.rmSync(incomplete, { force: true });
      throw new UserError(`The partial download of ${ctx.repo}/${f.path} did not match the server's file and was removed. Run the pull again.`);
    }
    if (!res.ok) {
      const detail = (await res.text().catch(() => '')).slice(0, 200);
      throw hubError(new HubApiError(url, res.status, undefined, detail || res.statusText), ctx, `the download of ${f.path}`);
    }
    const append = have > 0 && res.status === 206;
    if (have > 0 && !append) have = 0; // the server sent the whole file: write it from the start
    resumedFrom = append ? have : 0;
    if (!res.body) throw new UserError(`The Hub at ${ctx.endpoint} sent no body for ${ctx.repo}/${f.path}. Try again.`);
    let written = have;
    const count = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        written += chunk.length;
        fetched += chunk.length;
        onBytes(Math.min(written, f.size));
        cb(null, chunk);
      },
    });
    try {
      const source = Readable.fromWeb(res.body as NodeReadableStream<Uint8Array>);
      const sink = fs.createWriteStream(incomplete, { flags: append ? 'a' : 'w' });
      await (signal ? pipeline(source, count, sink, { signal }) : pipeline(source, count, sink));
    } catch (err) {
      signal?.throwIfAborted();
      if (networkCode(err)) {
        const kept = sizeOf(incomplete) ?? 0;
        throw new UserError(
          `The connection to ${ctx.endpoint} dropped while downloading ${ctx.repo}/${f.path} (${kept} of ${f.size} bytes kept in ${incomplete}). Run the pull again to resume it. ${WHAT_TO_DO_OFFLINE}`,
        );
      }
      throw hubError(err, ctx, `the download of ${f.path}`);
    }
  }
  const size = sizeOf(incomplete) ?? 0;
  if (size !== f.size) {
    if (size > f.size) fs.rmSync(incomplete, { force: true });
    throw new UserError(`${ctx.repo}/${f.path} from ${ctx.endpoint} came with ${size} bytes, not the ${f.size} the listing gave. Run the pull again${size < f.size ? ' to resume it' : ''}.`);
  }
  if (f.sha256) {
    const digest = await sha256Of(incomplete, signal);
    if (digest !== f.sha256) {
      fs.rmSync(incomplete, { force: true });
      throw new UserError(`${ctx.repo}/${f.path} from ${ctx.endpoint} does not match its sha256 (${f.sha256}); the download was removed. Run the pull again.`);
    }
  }
  fs.renameSync(incomplete, blob);
  return { fetched, resumedFrom };
}

async function sha256Of(file: string, signal: AbortSignal | undefined): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) {
    signal?.throwIfAborted();
    hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}

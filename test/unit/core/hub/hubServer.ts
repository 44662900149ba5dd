/**
 * A small Hugging Face Hub on node:http, in the Hub's URL layout, for pull tests reached through
 * HF_ENDPOINT: `/api/models/{repo}/revision/{rev}` (model info with `sha`),
 * `/api/models/{repo}/tree/{rev}` (the listing, LFS files with their sha256), and
 * `/{repo}/resolve/{rev}/{path}` (ETag / X-Linked-ETag, X-Repo-Commit, Content-Length, Range).
 * It records every request, can drop a connection part way through a file, serve slowly, and
 * refuse a gated repo without the right token.
 */
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HubFile {
  readonly path: string;
  readonly content: Buffer;
  /** Stored with Git LFS (large files): the listing gives its sha256 and the resolve answer X-Linked-ETag. */
  readonly lfs?: boolean;
}

export interface HubRepo {
  readonly name: string;
  readonly commit: string;
  readonly files: readonly HubFile[];
  /** Only answered with `Authorization: Bearer <token>`; 401 otherwise, as the Hub does for gated repos. */
  readonly token?: string;
}

export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly range?: string;
  readonly auth?: string;
}

export interface HubServer {
  readonly endpoint: string;
  readonly requests: SeenRequest[];
  /** The next resolve of `path` sends `bytes` bytes and then drops the connection. */
  dropOnce(path: string, bytes: number): void;
  /** Send resolve bodies in `chunk`-byte pieces `delayMs` apart (0: at once). */
  throttle(chunk: number, delayMs: number): void;
  close(): Promise<void>;
}

const gitOid = (b: Buffer): string =>
  createHash('sha1')
    .update(Buffer.concat([Buffer.from(`blob ${b.length}\0`), b]))
    .digest('hex');
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

export async function startHubServer(repos: readonly HubRepo[]): Promise<HubServer> {
  const requests: SeenRequest[] = [];
  const drops = new Map<string, number>();
  let pace = { chunk: 0, delayMs: 0 };
  const byName = new Map(repos.map((r) => [r.name, r]));

  const json = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  const repoOf = (name: string, req: http.IncomingMessage, res: http.ServerResponse): HubRepo | undefined => {
    const repo = byName.get(name);
    if (!repo) {
      json(res, 404, { error: 'Repository not found' }, { 'X-Error-Code': 'RepositoryNotFound' });
      return undefined;
    }
    if (repo.token && req.headers.authorization !== `Bearer ${repo.token}`) {
      json(res, 401, { error: `Access to model ${name} is restricted. You must have access to it and be authenticated to access it.` }, { 'X-Error-Code': 'GatedRepo' });
      return undefined;
    }
    return repo;
  };
  const revisionOk = (repo: HubRepo, rev: string, res: http.ServerResponse): boolean => {
    if (rev === 'main' || rev === repo.commit) return true;
    json(res, 404, { error: `Invalid rev id: ${rev}` }, { 'X-Error-Code': 'RevisionNotFound' });
    return false;
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://hub');
    requests.push({
      method: req.method ?? 'GET',
      url: url.pathname,
      ...(req.headers.range ? { range: req.headers.range } : {}),
      ...(req.headers.authorization ? { auth: req.headers.authorization } : {}),
    });
    const p = url.pathname.split('/').map(decodeURIComponent);
    // /api/models/{org}/{name}/revision/{rev}
    if (p[1] === 'api' && p[2] === 'models' && p[5] === 'revision' && p.length === 7) {
      const repo = repoOf(`${p[3]}/${p[4]}`, req, res);
      if (!repo || !revisionOk(repo, p[6] as string, res)) return;
      json(res, 200, { _id: 'x', id: repo.name, sha: repo.commit, private: false, gated: repo.token ? 'auto' : false, downloads: 0, likes: 0, lastModified: '2025-01-01T00:00:00.000Z' });
      return;
    }
    // /api/models/{org}/{name}/tree/{rev}
    if (p[1] === 'api' && p[2] === 'models' && p[5] === 'tree' && p.length === 7) {
      const repo = repoOf(`${p[3]}/${p[4]}`, req, res);
      if (!repo || !revisionOk(repo, p[6] as string, res)) return;
      const entries = repo.files.map((f) => {
        const pointer = Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(f.content)}\nsize ${f.content.length}\n`);
        return f.lfs
          ? { type: 'file', oid: gitOid(pointer), size: f.content.length, path: f.path, lfs: { oid: sha256(f.content), size: f.content.length, pointerSize: pointer.length } }
          : { type: 'file', oid: gitOid(f.content), size: f.content.length, path: f.path };
      });
      json(res, 200, entries);
      return;
    }
    // /{org}/{name}/resolve/{rev}/{path...}
    if (p[3] === 'resolve' && p.length >= 6) {
      const repo = repoOf(`${p[1]}/${p[2]}`, req, res);
      if (!repo || !revisionOk(repo, p[4] as string, res)) return;
      const file = repo.files.find((f) => f.path === p.slice(5).join('/'));
      if (!file) {
        json(res, 404, { error: 'Entry not found' }, { 'X-Error-Code': 'EntryNotFound' });
        return;
      }
      const etag = file.lfs ? sha256(file.content) : gitOid(file.content);
      const headers: Record<string, string> = { ETag: `"${etag}"`, 'X-Repo-Commit': repo.commit, 'Accept-Ranges': 'bytes', 'Content-Type': 'application/octet-stream' };
      if (file.lfs) headers['X-Linked-ETag'] = `"${etag}"`;
      let body = file.content;
      let status = 200;
      const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
      if (range) {
        const start = Number(range[1]);
        const end = range[2] ? Number(range[2]) : file.content.length - 1;
        if (start >= file.content.length) {
          res.writeHead(416, { 'Content-Range': `bytes */${file.content.length}` });
          res.end();
          return;
        }
        body = file.content.subarray(start, end + 1);
        status = 206;
        headers['Content-Range'] = `bytes ${start}-${end}/${file.content.length}`;
      }
      headers['Content-Length'] = String(body.length);
      res.writeHead(status, headers);
      const drop = drops.get(file.path);
      if (drop !== undefined) {
        drops.delete(file.path);
        res.write(body.subarray(0, drop), () => setTimeout(() => res.socket?.destroy(), 20));
        return;
      }
      void send(res, body);
      return;
    }
    json(res, 404, { error: `no route ${url.pathname}` });
  });
  const send = async (res: http.ServerResponse, body: Buffer): Promise<void> => {
    if (!pace.chunk) {
      res.end(body);
      return;
    }
    for (let i = 0; i < body.length && !res.destroyed; i += pace.chunk) {
      res.write(body.subarray(i, i + pace.chunk));
      await new Promise((r) => setTimeout(r, pace.delayMs));
    }
    res.end();
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    dropOnce: (path, bytes) => drops.set(path, bytes),
    throttle: (chunk, delayMs) => {
      pace = { chunk, delayMs };
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A tiny model repo: config, tokenizer, a 2 MB LFS model.safetensors, and copies that are not fetched. */
export function tinyRepo(name: string, commit: string, extra: Partial<HubRepo> = {}): HubRepo {
  const weights = Buffer.alloc(2 * 1024 * 1024);
  for (let i = 0; i < weights.length; i++) weights[i] = (i * 2654435761) >>> 24;
  return {
    name,
    commit,
    files: [
      { path: 'config.json', content: Buffer.from(JSON.stringify({ model_type: 'gpt2', architectures: ['GPT2LMHeadModel'], n_embd: 32, n_layer: 1, n_head: 4, vocab_size: 260 })) },
      { path: 'tokenizer.json', content: Buffer.from('{"version":"1.0","model":{"type":"BPE"}}') },
      { path: 'generation_config.json', content: Buffer.from('{"max_new_tokens":16}') },
      { path: 'README.md', content: Buffer.from('# tiny\n') },
      { path: 'model.safetensors', content: weights, lfs: true },
      { path: 'pytorch_model.bin', content: Buffer.alloc(1000, 1), lfs: true },
      { path: 'onnx/model.onnx', content: Buffer.alloc(500, 2), lfs: true },
    ],
    ...extra,
  };
}

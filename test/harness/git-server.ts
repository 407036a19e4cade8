import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

// A Git server on loopback that speaks smart HTTP through git's own `git http-backend` (a CGI
// program), so source-controller clones from a real Git server, and a working copy the test commits to.

const run = promisify(execFile);

export interface GitRepository {
  /** The URL source-controller clones: http://127.0.0.1:<port>/<name>.git */
  readonly url: string;
  /** Writes the files (path -> content), commits them all and pushes; resolves to the commit's full hash. */
  commit(message: string, files: Record<string, string>): Promise<string>;
  /** The commit log of the pushed branch, newest first, one line each (`<short hash> <message>`). */
  log(): Promise<string[]>;
}

export interface GitServer {
  /** A new, empty repository served on `main`. */
  repository(name: string): Promise<GitRepository>;
  close(): Promise<void>;
}

const identity = {
  GIT_AUTHOR_NAME: 'Fledge tests',
  GIT_AUTHOR_EMAIL: 'tests@fledge.invalid',
  GIT_COMMITTER_NAME: 'Fledge tests',
  GIT_COMMITTER_EMAIL: 'tests@fledge.invalid',
};

async function git(cwd: string, args: string[]): Promise<string> {
  const { stdout } = await run('git', args, { cwd, env: { ...process.env, ...identity } });
  return stdout.trim();
}

/** Runs one request through `git http-backend` and writes its CGI answer back as HTTP. */
function serveCgi(root: string, request: IncomingMessage, response: ServerResponse): void {
  const url = new URL(request.url ?? '/', 'http://git.invalid');
  const header = (name: string) => String(request.headers[name] ?? '');
  const backend = spawn('git', ['http-backend'], {
    env: {
      PATH: process.env.PATH,
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: '1',
      REQUEST_METHOD: request.method ?? 'GET',
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      CONTENT_TYPE: header('content-type'),
      CONTENT_LENGTH: header('content-length'),
      HTTP_CONTENT_ENCODING: header('content-encoding'),
      GIT_PROTOCOL: header('git-protocol'),
      REMOTE_ADDR: '127.0.0.1',
    },
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  request.pipe(backend.stdin);
  // CGI: header lines, a blank line, then the body.
  let head = Buffer.alloc(0);
  let headDone = false;
  backend.stdout.on('data', (chunk: Buffer) => {
    if (headDone) {
      response.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return;
    headDone = true;
    let status = 200;
    for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
      const colon = line.indexOf(':');
      const [name, value] = [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
      if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
      else response.setHeader(name, value);
    }
    response.writeHead(status);
    response.write(head.subarray(end + 4));
  });
  backend.once('close', () => {
    if (!headDone) response.writeHead(502);
    response.end();
  });
  backend.once('error', () => {
    if (!response.headersSent) response.writeHead(502);
    response.end();
  });
}

/** Starts the server on a free loopback port; repositories live in a temporary folder until close(). */
export async function startGitServer(): Promise<GitServer> {
  const root = await mkdtemp(join(tmpdir(), 'fledge-git-'));
  const server = createServer((request, response) => serveCgi(join(root, 'served'), request, response));
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    async repository(name) {
      const bare = join(root, 'served', `${name}.git`);
      const work = join(root, 'work', name);
      await mkdir(bare, { recursive: true });
      await mkdir(work, { recursive: true });
      await git(bare, ['init', '--bare', '--quiet', '--initial-branch=main']);
      await git(work, ['init', '--quiet', '--initial-branch=main']);
      await git(work, ['remote', 'add', 'origin', bare]);
      return {
        url: `http://127.0.0.1:${port}/${name}.git`,
        async commit(message, files) {
          for (const [path, content] of Object.entries(files)) {
            await mkdir(dirname(join(work, path)), { recursive: true });
            await writeFile(join(work, path), content);
          }
          await git(work, ['add', '--all']);
          await git(work, ['commit', '--quiet', '--allow-empty', '-m', message]);
          await git(work, ['push', '--quiet', 'origin', 'main']);
          return git(work, ['rev-parse', 'HEAD']);
        },
        async log() {
          const out = await git(work, ['log', '--format=%h %s']);
          return out === '' ? [] : out.split('\n');
        },
      };
    },
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }).then(() => rm(root, { recursive: true, force: true })),
  };
}

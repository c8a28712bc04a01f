// The member's REST API server on node:http: reads requests, hands them to the routes, writes their replies.
import http from 'node:http';
import { PgpilotError, errorMessage } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import type { MemberBackend } from './backend.js';
import { HttpError, type Reply } from './replies.js';
import { route, type ApiRequest, type RouteContext } from './routes.js';

/** Request bodies (config patches, restart options) are small; anything above this is refused with 413. */
export const maxBodyBytes = 1024 * 1024;

export interface ApiServerOptions {
  host: string;
  /** 0 lets the OS pick a free port; `url` tells which. */
  port: number;
  backend: MemberBackend;
  /** Required by the mutating endpoints (see auth.ts). */
  token: string;
  logger: Logger;
}

export interface ApiServer {
  /** Base URL, e.g. http://127.0.0.1:8008 */
  url: string;
  /** Stops listening and closes every connection, idle keep-alive ones included. */
  close(): Promise<void>;
}

export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  if (options.token === '') {
    throw new PgpilotError('Config', 'the REST API token is empty', { hint: 'write a token to the api.tokenFile' });
  }
  const ctx: RouteContext = { backend: options.backend, token: options.token, logger: options.logger, now: Date.now };
  const server = http.createServer((req, res) => void serve(req, res, ctx));
  const port = await listen(server, options.host, options.port);
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return { url: `http://${host}:${port}`, close: () => close(server) };
}

async function serve(req: http.IncomingMessage, res: http.ServerResponse, ctx: RouteContext): Promise<void> {
  const reply = await route(apiRequest(req), ctx);
  try {
    writeReply(req, res, reply);
  } catch (e) {
    ctx.logger.error('api response could not be written', { path: req.url, error: errorMessage(e) });
    res.destroy();
  }
}

function apiRequest(req: http.IncomingMessage): ApiRequest {
  const url = new URL(req.url ?? '/', 'http://localhost');
  return {
    method: req.method ?? 'GET',
    path: url.pathname,
    query: url.searchParams,
    authorization: req.headers.authorization,
    readBody: () => readBody(req),
  };
}

/** OPTIONS (HAProxy's httpchk, as in Patroni) gets the status only; for HEAD, node:http leaves the body out itself. */
function writeReply(req: http.IncomingMessage, res: http.ServerResponse, reply: Reply): void {
  const payload = req.method === 'OPTIONS' ? '' : reply.payload;
  // A refused body may still be on its way: close the connection rather than read it.
  if (reply.status === 413) res.shouldKeepAlive = false;
  res.writeHead(reply.status, {
    ...reply.headers,
    'content-type': reply.contentType,
    'content-length': String(Buffer.byteLength(payload)),
  });
  res.end(payload);
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const tooLarge = new HttpError(413, `request body is larger than ${maxBodyBytes} bytes`);
    if (Number(req.headers['content-length'] ?? 0) > maxBodyBytes) return reject(tooLarge);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) {
        req.pause();
        reject(tooLarge);
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function listen(server: http.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void =>
      reject(
        new PgpilotError('Os', `the REST API cannot listen on ${host}:${port}: ${e.message}`, {
          hint: 'another process may use the port: pick another api port or stop it',
          cause: e,
        }),
      );
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    });
  });
}

function close(server: http.Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((e) => (e === undefined ? resolve() : reject(e)));
    server.closeAllConnections();
  });
}

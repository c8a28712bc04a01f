// The REST API's routes: path and method to handler, token checks, and every error turned into a JSON reply.
import { errorMessage } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import type { MemberBackend } from './backend.js';
import { isAuthorized } from './auth.js';
import { clusterDocument } from './cluster-json.js';
import { healthChecks, healthStatusCode, parseByteSize, type HealthCheck } from './health.js';
import { archiveDocument, mutatingJobKinds, parseJobRequest } from './jobs.js';
import { metricsText, metricsType } from './metrics.js';
import { patroniDocument } from './patroni-json.js';
import { HttpError, failure, json, statusOf, text, type Reply } from './replies.js';
import { restartRefusal } from './restart.js';

/** A request as the routes see it; the server reads the body only when a route asks for it. */
export interface ApiRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  authorization: string | undefined;
  readBody(): Promise<string>;
}

export interface RouteContext {
  backend: MemberBackend;
  token: string;
  logger: Logger;
  now: () => number;
}

type Handler = (req: ApiRequest, ctx: RouteContext) => Reply | Promise<Reply>;

interface Route {
  /** Mutating routes need the API token. */
  auth: boolean;
  handler: Handler;
}

type Methods = Partial<Record<string, Route>>;

const open = (handler: Handler): Route => ({ auth: false, handler });
const guarded = (handler: Handler): Route => ({ auth: true, handler });

/** Health endpoints answer GET with the /patroni document, HEAD and OPTIONS (HAProxy's httpchk) with the status. */
function healthRoute(check: HealthCheck): Methods {
  const probe = open((req, ctx) => {
    const status = ctx.backend.status();
    const lag = req.query.get('lag');
    const ok = check(status, { now: ctx.now(), maxLagBytes: lag === null ? undefined : parseByteSize(lag) });
    return json(healthStatusCode(ok), patroniDocument(status));
  });
  return { GET: probe, HEAD: probe, OPTIONS: probe };
}

const routeTable: ReadonlyMap<string, Methods> = new Map<string, Methods>([
  ...[...healthChecks].map(([path, check]): [string, Methods] => [path, healthRoute(check)]),
  ['/patroni', { GET: open((_req, ctx) => json(200, patroniDocument(ctx.backend.status()))) }],
  ['/cluster', { GET: open(async (_req, ctx) => json(200, clusterDocument(await ctx.backend.cluster()))) }],
  ['/history', { GET: open(async (_req, ctx) => json(200, (await ctx.backend.cluster()).history)) }],
  [
    '/config',
    {
      GET: open(getConfig),
      PATCH: guarded(async (req, ctx) => json(200, await ctx.backend.patchConfig(await jsonObject(req)))),
      PUT: guarded(async (req, ctx) => json(200, await ctx.backend.putConfig(await jsonObject(req)))),
    },
  ],
  ['/restart', { POST: guarded(restart) }],
  ['/switchover', { POST: guarded((req, ctx) => switchover(req, ctx, true)), DELETE: guarded(cancelSwitchover) }],
  ['/failover', { POST: guarded((req, ctx) => switchover(req, ctx, false)) }],
  ['/failsafe', { POST: guarded(failsafe) }],
  ['/reload', { POST: guarded(reload) }],
  ['/metrics', { GET: open(metrics) }],
  ['/jobs', { GET: open(getJobs), POST: guarded(postJob) }],
  ['/backups', { GET: open(async (_req, ctx) => json(200, await ctx.backend.backups())) }],
  ['/dumps', { GET: open(async (_req, ctx) => json(200, await ctx.backend.dumps())) }],
  ['/archive', { GET: open(async (_req, ctx) => json(200, archiveDocument(await ctx.backend.archiveStatus(), ctx.now()))) }],
]);

/** Answers one request; never throws: unexpected errors become a logged 500. */
export async function route(req: ApiRequest, ctx: RouteContext): Promise<Reply> {
  try {
    return await dispatch(req, ctx);
  } catch (e) {
    const status = statusOf(e);
    const fields = { method: req.method, path: req.path, error: errorMessage(e) };
    if (status >= 500) ctx.logger.error('api request failed', fields);
    return failure(status, errorMessage(e));
  }
}

const challenge = 'Bearer realm="pgpilot", Basic realm="pgpilot"';

async function dispatch(req: ApiRequest, ctx: RouteContext): Promise<Reply> {
  const methods = routeTable.get(req.path);
  if (methods === undefined) return failure(404, `no such endpoint: ${req.path}`);
  const found = routeFor(methods, req.method);
  if (found === undefined) {
    return failure(405, `${req.method} is not allowed on ${req.path}`, { allow: Object.keys(methods).join(', ') });
  }
  if (found.auth) {
    if (!isAuthorized(req.authorization, ctx.token)) {
      ctx.logger.warn('api request refused: missing or wrong token', { method: req.method, path: req.path });
      return failure(401, 'missing or wrong API token', { 'www-authenticate': challenge });
    }
    ctx.logger.info('api request', { method: req.method, path: req.path });
  }
  return await found.handler(req, ctx);
}

/** The route of a method (own keys only); HEAD is GET without the body, on every route. */
function routeFor(methods: Methods, method: string): Route | undefined {
  if (Object.hasOwn(methods, method)) return methods[method];
  return method === 'HEAD' ? methods['GET'] : undefined;
}

async function metrics(_req: ApiRequest, ctx: RouteContext): Promise<Reply> {
  return { status: 200, contentType: metricsType, payload: metricsText(ctx.backend.status(), await ctx.backend.backupMetrics()) };
}

/**
 * 202 with the started job; mutating kinds run on the leader only, so the cluster has one runner of them. The
 * exception is the leader's own backup job handing the copy to a replica (options.standby).
 */
async function postJob(req: ApiRequest, ctx: RouteContext): Promise<Reply> {
  const { kind, options } = parseJobRequest(await jsonObject(req));
  const status = ctx.backend.status();
  if (mutatingJobKinds.has(kind) && !status.isLeader && options.standby !== true) {
    const leader = ctx.backend.leader();
    const where = leader === undefined ? 'the cluster has no leader now: try again once one is elected' : `send it to the leader, ${leader}`;
    return failure(503, `${kind} jobs run on the leader only and ${status.name} is not the leader: ${where}`);
  }
  return json(202, ctx.backend.startJob(kind, options));
}

/** The recent jobs, newest first, or one job with ?id=ID. */
function getJobs(req: ApiRequest, ctx: RouteContext): Reply {
  const id = req.query.get('id');
  if (id === null) return json(200, ctx.backend.jobs());
  const job = ctx.backend.job(id);
  return job === undefined ? failure(404, `no job ${id} on this member (it keeps its last 50 jobs)`) : json(200, job);
}

async function getConfig(_req: ApiRequest, ctx: RouteContext): Promise<Reply> {
  const config = (await ctx.backend.cluster()).config;
  return config === undefined ? failure(404, 'the cluster has no dynamic configuration yet') : json(200, config);
}

/** Patroni answers 200 once PostgreSQL restarted, 503 when it did not restart (conditions unmet or failure). */
async function restart(req: ApiRequest, ctx: RouteContext): Promise<Reply> {
  const body = await req.readBody();
  const refusal = restartRefusal(body.trim() === '' ? {} : parseJsonObject(body), ctx.backend.status());
  if (refusal !== undefined) return failure(refusal.status, refusal.message);
  await ctx.backend.restart();
  return json(200, { message: 'restarted successfully' });
}

/** Patroni answers 202: the reload is asked of the agent, which applies it in its loop. */
async function reload(_req: ApiRequest, ctx: RouteContext): Promise<Reply> {
  await ctx.backend.reload();
  return json(202, { message: 'reload scheduled' });
}

const optionalString = (body: Record<string, unknown>, key: string): string | undefined => {
  const v = body[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new HttpError(400, `"${key}" must be a string`);
  return v;
};

/** Patroni's POST /switchover (leader required) and POST /failover (candidate required), plain-text answers. */
async function switchover(req: ApiRequest, ctx: RouteContext, planned: boolean): Promise<Reply> {
  const body = await jsonObject(req);
  const request = { leader: optionalString(body, 'leader'), candidate: optionalString(body, 'candidate'), scheduledAt: optionalString(body, 'scheduled_at') };
  if (planned && request.leader === undefined) return text(400, 'Switchover could be performed only from a specific member. Please specify leader name');
  if (!planned && request.candidate === undefined) return text(400, 'Failover could be performed only to a specific candidate');
  if (request.scheduledAt !== undefined && Number.isNaN(Date.parse(request.scheduledAt))) return text(400, 'Unable to parse scheduled timestamp. It should be in an unambiguous format, e.g. ISO 8601');
  const result = await ctx.backend.switchover(planned ? request : { ...request, leader: undefined });
  return text(result.status, result.message);
}

async function cancelSwitchover(_req: ApiRequest, ctx: RouteContext): Promise<Reply> {
  const result = await ctx.backend.cancelSwitchover();
  return text(result.status, result.message);
}

async function failsafe(req: ApiRequest, ctx: RouteContext): Promise<Reply> {
  const leader = optionalString(await jsonObject(req), 'leader');
  if (leader === undefined) return failure(400, '"leader" is required');
  return json(200, patroniDocument(ctx.backend.failsafe(leader)));
}

async function jsonObject(req: ApiRequest): Promise<Record<string, unknown>> {
  return parseJsonObject(await req.readBody());
}

function parseJsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new HttpError(400, `request body is not valid JSON: ${errorMessage(e)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HttpError(400, 'request body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

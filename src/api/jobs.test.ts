// The job, backup and archive routes with a fake backend: POST /jobs checks, leader-only kinds, listings, timeouts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PgpilotError } from '../base/errors.js';
import { clusterView, fakeBackend, primaryStatus, replicaStatus, startTestServer, testToken } from './fixtures.js';
import { archiveDocument, emptyArchiveStatus, parseJobRequest, type JobInfo } from './jobs.js';
import type { ApiServer } from './server.js';

test('parseJobRequest takes a kind and the options that kind takes', () => {
  assert.deepEqual(parseJobRequest({ kind: 'backup', options: { type: 'incr', repo: 'main' } }), { kind: 'backup', options: { type: 'incr', repo: 'main' } });
  assert.deepEqual(parseJobRequest({ kind: 'list' }), { kind: 'list', options: {} });
  assert.deepEqual(parseJobRequest({ kind: 'dump', options: { databases: ['app'] } }), { kind: 'dump', options: { databases: ['app'] } });
  assert.deepEqual(parseJobRequest({ kind: 'backup', options: { type: 'full', standby: true } }), { kind: 'backup', options: { type: 'full', standby: true } });
  const refusals: Array<[Record<string, unknown>, string]> = [
    [{ kind: 'restore' }, '"kind" must be one of backup, verify, expire, list, dump, dumps, dump-restore'],
    [{ kind: 'backup', options: {} }, 'a backup job needs options.type: full, diff, incr'],
    [{ kind: 'backup', options: { type: 'weekly' } }, 'options.type must be one of full, diff, incr'],
    [{ kind: 'verify', options: { type: 'full' } }, 'a verify job takes no option "type" (it takes repo, set)'],
    [{ kind: 'dumps', options: { repo: 'a' } }, 'a dumps job takes no option "repo"'],
    [{ kind: 'expire', options: { repo: 3 } }, 'options.repo must be a non-empty string'],
    [{ kind: 'dump', options: { databases: 'app' } }, 'options.databases must be an array of database names'],
    [{ kind: 'dumps', options: [] }, '"options" must be a JSON object'],
    [{ kind: 'backup', options: { type: 'full', standby: 'yes' } }, 'options.standby must be true or false'],
  ];
  for (const [body, message] of refusals) assert.throws(() => parseJobRequest(body), { status: 400, message });
});

test('archiveDocument adds the seconds since the last archived segment', () => {
  const now = Date.parse('2024-05-01T01:00:30Z');
  assert.equal(archiveDocument({ ...emptyArchiveStatus(), lastArchivedAt: '2024-05-01T01:00:00Z' }, now).lagSeconds, 30);
  assert.deepEqual(archiveDocument(undefined, now), { ...emptyArchiveStatus(), lagSeconds: null });
});

describe('job routes', () => {
  const backend = fakeBackend();
  let server: ApiServer;
  const post = (body: unknown, auth = true): Promise<Response> =>
    fetch(`${server.url}/jobs`, { method: 'POST', body: JSON.stringify(body), headers: auth ? { authorization: `Bearer ${testToken}` } : {} });
  const errorOf = async (res: Response): Promise<string> => ((await res.json()) as { error: string }).error;

  before(async () => {
    server = await startTestServer(backend);
  });
  after(() => server.close());

  test('POST /jobs needs the token, starts a job (202) and refuses a second mutating one (409)', async () => {
    backend.current = primaryStatus({ lastLoopAt: Date.now() });
    backend.jobList = [];
    assert.equal((await post({ kind: 'backup', options: { type: 'full' } }, false)).status, 401);
    const started = await post({ kind: 'backup', options: { type: 'full' } });
    assert.equal(started.status, 202);
    const job = (await started.json()) as JobInfo;
    assert.deepEqual([job.id, job.kind, job.options, job.state], ['job-1', 'backup', { type: 'full' }, 'running']);
    const busy = await post({ kind: 'expire' });
    assert.deepEqual([busy.status, await errorOf(busy)], [409, 'a backup job is already running (id job-1)']);
    assert.equal((await post({ kind: 'dumps' })).status, 202);
    const bad = await post({ kind: 'backup', options: { type: 'full', set: 'x' } });
    assert.deepEqual([bad.status, await errorOf(bad)], [400, 'a backup job takes no option "set" (it takes type, repo, standby)']);
  });

  test('mutating jobs run on the leader only: a replica answers 503 naming the leader', async () => {
    backend.current = replicaStatus({ lastLoopAt: Date.now() });
    backend.jobList = [];
    try {
      const refused = await post({ kind: 'verify', options: { repo: 'main' } });
      assert.deepEqual([refused.status, await errorOf(refused)], [503, 'verify jobs run on the leader only and pg-1 is not the leader: send it to the leader, pg-0']);
      backend.view = clusterView({ leader: undefined });
      assert.match(await errorOf(await post({ kind: 'dump' })), /: the cluster has no leader now: try again once one is elected$/);
      assert.equal((await post({ kind: 'list' })).status, 202, 'read-only kinds run on any member');
      backend.view = clusterView();
      assert.equal((await post({ kind: 'backup', options: { type: 'full' } })).status, 503);
      assert.equal((await post({ kind: 'backup', options: { type: 'full', standby: true } })).status, 202, 'the leader hands a backup to a replica');
    } finally {
      backend.view = clusterView();
      backend.current = primaryStatus({ lastLoopAt: Date.now() });
    }
  });

  test('GET /jobs lists the recent jobs, ?id= one of them (404 when unknown), without a token', async () => {
    backend.jobList = [];
    backend.startJob('dumps', {});
    backend.startJob('list', {});
    const all = await fetch(`${server.url}/jobs`);
    assert.deepEqual(((await all.json()) as JobInfo[]).map((j) => j.id), ['job-2', 'job-1']);
    const one = await fetch(`${server.url}/jobs?id=job-1`);
    assert.equal(((await one.json()) as JobInfo).kind, 'dumps');
    const missing = await fetch(`${server.url}/jobs?id=nope`);
    assert.deepEqual([missing.status, await errorOf(missing)], [404, 'no job nope on this member (it keeps its last 50 jobs)']);
  });

  test('GET /backups and /dumps answer the listing jobs\' results; a job past its time is a 504', async () => {
    const backups = await fetch(`${server.url}/backups`);
    assert.deepEqual([backups.status, await backups.json()], [200, backend.listing]);
    assert.deepEqual(await (await fetch(`${server.url}/dumps`)).json(), { dumps: [] });
    const slow = fakeBackend();
    slow.backups = () => Promise.reject(new PgpilotError('Timeout', 'the list job did not finish within 60 s: stopped it'));
    const other = await startTestServer(slow);
    try {
      const res = await fetch(`${other.url}/backups`);
      assert.deepEqual([res.status, await errorOf(res)], [504, 'the list job did not finish within 60 s: stopped it']);
    } finally {
      await other.close();
    }
  });

  test('GET /archive is the archive status with its lag, empty when the archiver wrote none', async () => {
    backend.archive = undefined;
    assert.deepEqual(await (await fetch(`${server.url}/archive`)).json(), { ...emptyArchiveStatus(), lagSeconds: null });
    backend.archive = { ...emptyArchiveStatus(), lastArchived: '000000010000000000000007', lastArchivedAt: new Date(Date.now() - 5000).toISOString(), pending: 3 };
    const doc = (await (await fetch(`${server.url}/archive`)).json()) as { lastArchived: string; pending: number; lagSeconds: number };
    assert.deepEqual([doc.lastArchived, doc.pending], ['000000010000000000000007', 3]);
    assert.ok(doc.lagSeconds >= 5 && doc.lagSeconds < 60);
  });

  test('/metrics carries the backup and archive metrics', async () => {
    backend.metrics = {
      backups: [{ repo: 'main', type: 'full', lastSuccessAt: 1_700_000_000_000, lastDurationSeconds: 3, lastStoredBytes: 10, lastDatabaseBytes: 20, failures: 0, lastFailureAt: undefined }],
      archive: { ...emptyArchiveStatus(), pending: 4 },
    };
    const text = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(text, /^pgpilot_backup_last_success_timestamp_seconds\{scope="demo",name="pg-0",repo="main",type="full"\} 1700000000$/m);
    assert.match(text, /^pgpilot_archive_pending_segments\{scope="demo",name="pg-0"\} 4$/m);
    assert.match(text, /^pgpilot_up\{scope="demo",name="pg-0"\} 1$/m);
  });
});

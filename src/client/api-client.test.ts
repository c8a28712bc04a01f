// The API client against the real REST API server with a fake backend: every call, and failures as catalog errors.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PgpilotError } from '../base/errors.js';
import { clusterView, fakeBackend, primaryStatus, startTestServer, testToken } from '../api/fixtures.js';
import type { ApiServer } from '../api/server.js';
import { apiClient } from './api-client.js';

describe('API client', () => {
  const backend = fakeBackend();
  let server: ApiServer;

  before(async () => {
    server = await startTestServer(backend);
  });
  after(() => server.close());

  test('reads and changes the member', async () => {
    backend.current = primaryStatus({ lastLoopAt: Date.now() });
    const client = apiClient({ baseUrl: `${server.url}/`, token: testToken });
    assert.equal((await client.patroni()).role, 'master');
    assert.deepEqual((await client.cluster()).members.map((m) => m.name), ['pg-0', 'pg-1', 'pg-2']);
    assert.equal((await client.history()).length, 1);
    assert.equal((await client.config()).ttl, 30);
    assert.equal((await client.patchConfig({ ttl: 20 })).ttl, 20);
    backend.calls.length = 0;
    await client.restart();
    await client.reload();
    assert.deepEqual(backend.calls, ['restart', 'reload']);
    assert.equal(await client.health('/primary'), 200);
    assert.equal(await client.health('/replica'), 503);
  });

  test('starts and reads jobs, lists backups and dumps, reads the archive status', async () => {
    backend.current = primaryStatus({ lastLoopAt: Date.now() });
    backend.jobList = [];
    const client = apiClient({ baseUrl: server.url, token: testToken });
    const job = await client.startJob('backup', { type: 'diff', repo: 'main' });
    assert.deepEqual([job.kind, job.options, job.state], ['backup', { type: 'diff', repo: 'main' }, 'running']);
    assert.equal((await client.job(job.id)).id, job.id);
    assert.equal((await client.startJob('list')).kind, 'list');
    assert.deepEqual((await client.jobs()).map((j) => j.kind), ['list', 'backup']);
    await assert.rejects(client.startJob('dump'), /answered 409: a backup job is already running \(id job-1\)$/);
    await assert.rejects(client.job('nope'), /answered 404: no job nope/);
    assert.deepEqual(await client.backups(), backend.listing);
    assert.deepEqual(await client.dumps(), { dumps: [] });
    assert.equal((await client.archiveStatus()).lagSeconds, null);
  });

  test('a 401 is an Auth error with a hint about the token file', async () => {
    await assert.rejects(apiClient({ baseUrl: server.url }).reload(), (e: PgpilotError) => {
      assert.equal(e.code, 'Auth');
      assert.equal(e.message, `POST ${server.url}/reload answered 401: missing or wrong API token`);
      assert.match(e.hint ?? '', /api\.tokenFile/);
      return true;
    });
  });

  test('another failing status is an Api error with the server message', async () => {
    backend.view = clusterView({ config: undefined });
    try {
      await assert.rejects(apiClient({ baseUrl: server.url }).config(), (e: PgpilotError) => {
        const message = `GET ${server.url}/config answered 404: the cluster has no dynamic configuration yet`;
        assert.deepEqual([e.code, e.message], ['Api', message]);
        return true;
      });
    } finally {
      backend.view = clusterView();
    }
  });

  test('an unreachable member is an Api error naming the URL', async () => {
    const gone = await startTestServer(backend);
    await gone.close();
    await assert.rejects(apiClient({ baseUrl: gone.url }).patroni(), (e: PgpilotError) => {
      assert.equal(e.code, 'Api');
      assert.match(e.message, new RegExp(`^GET ${gone.url}/patroni failed: fetch failed \\(.*ECONNREFUSED`));
      return true;
    });
  });
});

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

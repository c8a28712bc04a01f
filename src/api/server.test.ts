// The HTTP layer over real sockets with a fake backend: health codes per method, auth, errors and /metrics.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PgpilotError } from '../base/errors.js';
import type { DynamicConfig } from '../model/cluster.js';
import { fakeBackend, primaryStatus, replicaStatus, startTestServer, testToken } from './fixtures.js';
import type { ApiServer } from './server.js';

describe('REST API server', () => {
  const backend = fakeBackend();
  let server: ApiServer;
  const request = (path: string, init: RequestInit = {}): Promise<Response> => fetch(server.url + path, init);
  const bearer = { authorization: `Bearer ${testToken}` };

  before(async () => {
    server = await startTestServer(backend);
  });
  after(() => server.close());

  /** Status and body length for GET, HEAD and OPTIONS of one path. */
  async function probe(path: string): Promise<Array<[number, number]>> {
    return Promise.all(
      ['GET', 'HEAD', 'OPTIONS'].map(async (method): Promise<[number, number]> => {
        const res = await request(path, { method });
        return [res.status, (await res.text()).length];
      }),
    );
  }

  test('GET, HEAD and OPTIONS give the same codes; only GET has a body', async () => {
    backend.current = primaryStatus({ lastLoopAt: Date.now() });
    const [primary, replica] = [await probe('/primary'), await probe('/replica')];
    assert.deepEqual(primary.map(([code, length]) => [code, length > 0]), [[200, true], [200, false], [200, false]]);
    assert.deepEqual(replica.map(([code]) => code), [503, 503, 503]);

    backend.current = replicaStatus({ lastLoopAt: Date.now() });
    assert.deepEqual((await probe('/primary')).map(([code]) => code), [503, 503, 503]);
    assert.deepEqual((await probe('/replica')).map(([code]) => code), [200, 200, 200]);
    assert.equal((await request('/replica?lag=16B')).status, 503);
    assert.equal((await request('/replica?lag=1MB')).status, 200);
  });

  test('GET of a health endpoint returns the /patroni document as JSON', async () => {
    backend.current = replicaStatus({ lastLoopAt: Date.now() });
    const res = await request('/health');
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.equal(((await res.json()) as { role: string }).role, 'replica');
  });

  test('PATCH /config needs the token, as Bearer or as the Basic password', async () => {
    const patch = { method: 'PATCH', body: '{"loop_wait": 5}' };
    const refused = await request('/config', patch);
    assert.equal(refused.status, 401);
    assert.deepEqual(await refused.json(), { error: 'missing or wrong API token' });
    assert.equal((await request('/config', { ...patch, headers: { authorization: 'Bearer nope' } })).status, 401);

    const ok = await request('/config', { ...patch, headers: bearer });
    assert.equal(ok.status, 200);
    assert.equal(((await ok.json()) as DynamicConfig).loop_wait, 5);
    const basic = `Basic ${Buffer.from(`patroni:${testToken}`).toString('base64')}`;
    assert.equal((await request('/config', { ...patch, headers: { authorization: basic } })).status, 200);
  });

  test('bad JSON is a 400 with the parse error, an unknown path a 404, a wrong method a 405', async () => {
    const bad = await request('/config', { method: 'PATCH', body: '{loop_wait', headers: bearer });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /^request body is not valid JSON: /);
    const missing = await request('/nope');
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), { error: 'no such endpoint: /nope' });
    const wrong = await request('/restart');
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get('allow'), 'POST');
  });

  test('a body over 1 MiB is refused with 413, announced or streamed', async () => {
    const body = `{"x":"${'a'.repeat(1024 * 1024)}"}`;
    const announced = await request('/config', { method: 'PUT', body, headers: bearer });
    assert.equal(announced.status, 413);
    const streamed = new Blob([body]).stream();
    const init = { method: 'PUT', body: streamed, headers: bearer, duplex: 'half' }; // duplex: a streamed body
    const chunked = await request('/config', init);
    assert.equal(chunked.status, 413);
  });

  test('a backend failure is a JSON error with the mapped status', async () => {
    const failing = fakeBackend();
    failing.patchConfig = () => Promise.reject(new PgpilotError('DcsConflict', 'config changed meanwhile'));
    failing.cluster = () => Promise.reject(new Error('boom'));
    const other = await startTestServer(failing);
    try {
      const conflict = await fetch(`${other.url}/config`, { method: 'PATCH', body: '{}', headers: bearer });
      assert.equal(conflict.status, 409);
      const crash = await fetch(`${other.url}/cluster`);
      assert.deepEqual([crash.status, await crash.json()], [500, { error: 'boom' }]);
    } finally {
      await other.close();
    }
  });

  test('/metrics is Prometheus text, open without a token', async () => {
    backend.current = primaryStatus({ lastLoopAt: Date.now() });
    const res = await request('/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    assert.match(await res.text(), /^pgpilot_is_leader\{scope="demo",name="pg-0"\} 1$/m);
  });
});

test('switchover, failover and failsafe need the token and answer as Patroni does', async () => {
  const backend = fakeBackend();
  const server = await startTestServer(backend);
  try {
    const post = (path: string, body: unknown, auth = true): Promise<Response> =>
      fetch(server.url + path, { method: 'POST', body: JSON.stringify(body), headers: auth ? { authorization: `Bearer ${testToken}` } : {} });
    assert.equal((await post('/switchover', { leader: 'a', candidate: 'b' }, false)).status, 401);
    const done = await post('/switchover', { leader: 'a', candidate: 'b' });
    assert.equal(done.status, 200);
    assert.equal(await done.text(), 'Successfully switched over to "b"');
    assert.equal((await post('/switchover', { candidate: 'b' })).status, 400);
    assert.equal((await post('/switchover', { leader: 'a', scheduled_at: 'not a time' })).status, 400);
    assert.equal((await post('/switchover', { leader: 'a', scheduled_at: '2030-01-01T00:00:00Z' })).status, 202);
    assert.equal((await post('/failover', {})).status, 400);
    assert.equal((await post('/failover', { leader: 'x', candidate: 'b' })).status, 200);
    assert.equal((await post('/failsafe', { leader: 'a' })).status, 200);
    assert.deepEqual(backend.calls, ['switchover a b -', 'switchover a - 2030-01-01T00:00:00Z', 'switchover - b -', 'failsafe a']);
  } finally {
    await server.close();
  }
});

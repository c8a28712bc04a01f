// Unit tests of the logical dump catalog's pure parts: labels, object names, manifest parsing and the expiry choice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PgpilotError } from '../base/errors.js';
import {
  type DumpManifest, chooseExpiredDumps, databaseObject, dumpLabel, globalsObject, isDumpLabel, parseDumpManifest,
  serializeDumpManifest,
} from './logical-catalog.js';

const label = '20261122-081500L';
const sha = 'a'.repeat(64);

function manifest(): DumpManifest {
  return {
    format: 1, label, startTime: '2026-11-22T08:15:00.000Z', stopTime: '2026-11-22T08:15:03.000Z', pgVersion: 150004,
    compress: { type: 'zstd', level: 1 }, encrypted: false,
    globals: { object: `dump/${label}/globals.sql.zst`, size: 900, storedSize: 400, sha256: sha },
    databases: [{ name: 'app', object: `dump/${label}/app.dump.zst`, size: 5000, storedSize: 1200, sha256: sha }],
    status: 'complete',
  };
}

const corrupt = (f: () => unknown, message: RegExp): void =>
  assert.throws(f, (e: unknown) => e instanceof PgpilotError && e.code === 'Corrupt' && message.test(e.message));

test('a label is the UTC start time with an L, and sorts by time', () => {
  assert.equal(dumpLabel(new Date('2026-11-22T08:15:00.999Z')), label);
  assert.equal(dumpLabel(new Date('2026-01-02T03:04:05+02:00')), '20260102-010405L');
  assert.ok(isDumpLabel(label));
  for (const bad of ['20261122-081500F', '20261122-081500', '20261122_081500L', 'x20261122-081500L']) assert.ok(!isDumpLabel(bad), bad);
  assert.ok(dumpLabel(new Date('2026-11-22T08:15:00Z')) < dumpLabel(new Date('2026-11-22T08:15:01Z')));
});

test('object names keep any database name inside one path segment', () => {
  assert.equal(databaseObject(label, 'app', '.zst.enc'), `dump/${label}/app.dump.zst.enc`);
  assert.equal(databaseObject(label, 'a/b c', ''), `dump/${label}/a%2Fb%20c.dump`);
  assert.equal(databaseObject(label, '..', ''), `dump/${label}/...dump`);
  assert.equal(globalsObject(label, '.gz'), `dump/${label}/globals.sql.gz`);
});

test('a manifest survives serialize and parse', () => {
  assert.deepEqual(parseDumpManifest(serializeDumpManifest(manifest()), label, 'm'), manifest());
});

test('a changed byte, a truncated file or foreign JSON is Corrupt', () => {
  const buf = serializeDumpManifest(manifest());
  const changed = Buffer.from(buf.toString().replace('"size":5000', '"size":5001'));
  corrupt(() => parseDumpManifest(changed, label, 'm'), /fails its checksum/);
  corrupt(() => parseDumpManifest(buf.subarray(0, buf.length - 10), label, 'm'), /not a pgpilot dump manifest/);
  corrupt(() => parseDumpManifest(Buffer.from('{"label":"x"}'), label, 'm'), /not a pgpilot dump manifest/);
});

test('a well-checksummed manifest with a wrong shape is rejected, naming the field', () => {
  const cases: [(m: Record<string, unknown>) => void, RegExp][] = [
    [(m) => (m.label = '20261122-081501L'), /label/],
    [(m) => (m.status = 'running'), /status/],
    [(m) => (m.stopTime = 'later'), /stopTime/],
    [(m) => (m.compress = { type: 'brotli', level: 1 }), /compress/],
    [(m) => ((m.globals as Record<string, unknown>).object = 'dump/other/globals.sql'), /globals: object/],
    [(m) => ((m.databases as Record<string, unknown>[])[0]!.size = -1), /databases\[0\]: size/],
    [(m) => ((m.databases as Record<string, unknown>[])[0]!.sha256 = 'xyz'), /sha256/],
    [(m) => ((m.databases as Record<string, unknown>[])[0]!.object = `dump/${label}/sub/app.dump`), /object/],
    [(m) => (m.databases = [...(m.databases as unknown[]), ...(m.databases as unknown[])]), /listed twice/],
  ];
  for (const [change, message] of cases) {
    const m = manifest() as unknown as Record<string, unknown>;
    change(m);
    corrupt(() => parseDumpManifest(serializeDumpManifest(m as unknown as DumpManifest), label, 'm'), message);
  }
});

test('a manifest of another format is a Repo error, not damage', () => {
  const m = { ...manifest(), format: 2 };
  assert.throws(() => parseDumpManifest(serializeDumpManifest(m), label, 'm'), (e: unknown) => e instanceof PgpilotError && e.code === 'Repo');
});

test('expiry keeps the newest complete dumps and drops incomplete ones older than the newest complete', () => {
  const c = (l: string): { label: string; status: 'complete' } => ({ label: l, status: 'complete' });
  const i = (l: string): { label: string; status: 'incomplete' } => ({ label: l, status: 'incomplete' });
  const dumps = [c('20260101-000000L'), i('20260102-000000L'), c('20260103-000000L'), c('20260104-000000L'), i('20260105-000000L')];
  assert.deepEqual(chooseExpiredDumps(dumps, 1), ['20260101-000000L', '20260102-000000L', '20260103-000000L']);
  assert.deepEqual(chooseExpiredDumps(dumps, 2), ['20260101-000000L', '20260102-000000L']);
  assert.deepEqual(chooseExpiredDumps(dumps, 3), ['20260102-000000L']);
  assert.deepEqual(chooseExpiredDumps(dumps, 10), ['20260102-000000L']);
  assert.deepEqual(chooseExpiredDumps([i('20260101-000000L'), i('20260102-000000L')], 1), [], 'no complete dump: nothing goes');
  assert.deepEqual(chooseExpiredDumps([], 1), []);
});

test('expiry refuses to keep fewer than one dump', () => {
  for (const keep of [0, -1, 1.5]) {
    assert.throws(() => chooseExpiredDumps([], keep), (e: unknown) => e instanceof PgpilotError && e.code === 'Config');
  }
});

// Unit tests of data-directory path classification for backups and of the directories a restore recreates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyPath, emptyDirsToRecreate, isInitFork } from './relation-files.js';

const tblspc = 'pg_tblspc/16400/PG_15_202209061';

test('relation forks in database, global and tablespace directories', () => {
  for (const rel of [
    'base/5/16427',
    'base/5/16427.1',
    'base/5/16427_vm',
    'base/5/16427_vm.2',
    'base/5/16500_init',
    'global/1260',
    'global/1260_vm',
    `${tblspc}/16384/16385`,
    `${tblspc}/16384/16385.12`,
  ]) {
    assert.equal(classifyPath(rel), 'relation', rel);
  }
});

test('free space maps and non-relation files are copied as they are', () => {
  for (const rel of [
    'base/5/16427_fsm',
    'base/5/16427_fsm.1',
    'global/pg_control',
    'global/pg_filenode.map',
    'base/5/pg_filenode.map',
    'base/5/PG_VERSION',
    'PG_VERSION',
    'postgresql.auto.conf',
    'pg_hba.conf',
    'pg_xact/0000',
    'pg_multixact/offsets/0000',
    'pg_logical/replorigin_checkpoint',
    'pg_stat/pgstat.stat',
    'base/5/16427_main',
    'base/5/16427x',
    'base/abc/16427',
    'base/16427',
    'pg_tblspc/16400',
    `${tblspc}/16384`,
    `${tblspc}/16427`,
    'pg_tblspc/16400/other/16384/16385',
    'somewhere/base/5/16427',
    'log/postgresql-2024-05-10.log',
  ]) {
    assert.equal(classifyPath(rel), 'other', rel);
  }
});

test('skips the contents of runtime directories but keeps the directories', () => {
  for (const dir of ['pg_wal', 'pg_replslot', 'pg_dynshmem', 'pg_notify', 'pg_serial', 'pg_snapshots', 'pg_stat_tmp', 'pg_subtrans']) {
    assert.equal(classifyPath(dir), 'other', dir);
    assert.equal(classifyPath(`${dir}/x`), 'exclude', `${dir}/x`);
  }
  assert.equal(classifyPath('pg_wal/000000010000000000000003'), 'exclude');
  assert.equal(classifyPath('pg_wal/00000002.history'), 'exclude');
  assert.equal(classifyPath('pg_wal/archive_status'), 'other');
  assert.equal(classifyPath('pg_wal/archive_status/000000010000000000000003.ready'), 'exclude');
  assert.equal(classifyPath('pg_replslot/standby1/state'), 'exclude');
  assert.equal(classifyPath('pg_subtrans/0000'), 'exclude');
});

test('skips top-level runtime, backup and signal files', () => {
  for (const rel of [
    'postmaster.pid',
    'postmaster.opts',
    'postgresql.auto.conf.tmp',
    'current_logfiles',
    'current_logfiles.tmp',
    'backup_label',
    'backup_label.old',
    'tablespace_map',
    'tablespace_map.old',
    'backup_manifest',
    'recovery.signal',
    'standby.signal',
  ]) {
    assert.equal(classifyPath(rel), 'exclude', rel);
  }
  assert.equal(classifyPath('conf.d/postmaster.pid'), 'other');
});

test('skips pgsql_tmp anywhere, relcache init files and temporary relations', () => {
  for (const rel of [
    'base/pgsql_tmp',
    'base/pgsql_tmp/pgsql_tmp1234.0',
    `${tblspc}/pgsql_tmp/pgsql_tmp99.1`,
    'pgsql_tmp_stray',
    'base/5/pg_internal.init',
    'base/5/pg_internal.init.12345',
    'global/pg_internal.init',
    'base/5/t3_16999',
    'base/5/t3_16999_fsm',
    'base/5/t12_16999.1',
  ]) {
    assert.equal(classifyPath(rel), 'exclude', rel);
  }
});

test('skips the main, fsm and vm forks of unlogged relations, keeps their init fork', () => {
  const initForks = new Set(['base/5/16500_init', `${tblspc}/16384/16600_init`]);
  for (const rel of ['base/5/16500', 'base/5/16500.1', 'base/5/16500_fsm', 'base/5/16500_vm', `${tblspc}/16384/16600`]) {
    assert.equal(classifyPath(rel, initForks), 'exclude', rel);
    assert.notEqual(classifyPath(rel), 'exclude', `${rel} without its init fork`);
  }
  assert.equal(classifyPath('base/5/16500_init', initForks), 'relation');
  assert.equal(classifyPath('base/6/16500', initForks), 'relation');
  assert.equal(classifyPath('base/5/165000', initForks), 'relation');
});

test('isInitFork recognises init forks in relation directories only', () => {
  assert.equal(isInitFork('base/5/16500_init'), true);
  assert.equal(isInitFork(`${tblspc}/16384/16600_init`), true);
  assert.equal(isInitFork('global/16500_init'), true);
  assert.equal(isInitFork('base/5/16500'), false);
  assert.equal(isInitFork('base/5/16500_vm'), false);
  assert.equal(isInitFork('16500_init'), false);
  assert.equal(isInitFork('pg_wal/16500_init'), false);
});

test('emptyDirsToRecreate covers every skipped directory, parents first', () => {
  for (const dir of ['pg_wal', 'pg_replslot', 'pg_dynshmem', 'pg_notify', 'pg_serial', 'pg_snapshots', 'pg_stat_tmp', 'pg_subtrans']) {
    assert.ok(emptyDirsToRecreate.includes(dir), dir);
  }
  for (const dir of ['pg_wal/archive_status', 'pg_tblspc', 'pg_logical/snapshots', 'pg_logical/mappings', 'pg_commit_ts']) {
    assert.ok(emptyDirsToRecreate.includes(dir), dir);
  }
  emptyDirsToRecreate.forEach((dir, i) => {
    const parent = dir.split('/').slice(0, -1).join('/');
    if (parent !== '') assert.ok(emptyDirsToRecreate.indexOf(parent) < i, `${parent} before ${dir}`);
  });
  assert.equal(new Set(emptyDirsToRecreate).size, emptyDirsToRecreate.length);
});

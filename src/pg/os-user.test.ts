// Unit tests of the run-as user helpers: passwd lookup, owned directories and atomic owned files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chownR, ensureDir, findPasswdEntry, readSecret, writeOwnedFile, type RunAs } from './os-user.js';

const me: RunAs = { name: 'me', uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, home: '/' };

test('finds a user in passwd text', () => {
  const passwd = 'root:x:0:0:root:/root:/bin/bash\npostgres:x:101:104:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash\n';
  assert.deepEqual(findPasswdEntry(passwd, 'postgres'), { name: 'postgres', uid: 101, gid: 104, home: '/var/lib/postgresql' });
  assert.equal(findPasswdEntry(passwd, 'post'), undefined);
  assert.equal(findPasswdEntry('bad:x:y:z:::\n', 'bad'), undefined);
});

test('creates directories and files with mode and owner, atomically', async (t) => {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'pgpilot-os-user-'));
  t.after(() => fs.rm(tmp, { recursive: true, force: true }));
  const dir = path.join(tmp, 'a', 'b');
  await ensureDir(dir, 0o700, me);
  await ensureDir(dir, 0o700, me);
  assert.equal((await fs.stat(dir)).mode & 0o777, 0o700);
  const file = path.join(dir, 'secret');
  await writeOwnedFile(file, 'one\n', 0o600, me);
  await writeOwnedFile(file, 'two\n', 0o600, me);
  assert.equal(await readSecret(file), 'two');
  assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
  assert.deepEqual(await fs.readdir(dir), ['secret']);
  await chownR(tmp, me);
  assert.equal((await fs.stat(file)).uid, me.uid);
});

test('a secret file must hold one non-empty line', async (t) => {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'pgpilot-secret-'));
  t.after(() => fs.rm(tmp, { recursive: true, force: true }));
  await fs.writeFile(path.join(tmp, 'empty'), '\n');
  await assert.rejects(readSecret(path.join(tmp, 'empty')), /must hold exactly one non-empty line/);
  await assert.rejects(readSecret(path.join(tmp, 'missing')), /could not read .*missing/);
});

// Unit tests of archive_command: it succeeds once the done marker exists, whatever characters the spool path holds.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { archiveCommand, doneDir } from './archive-command.js';

let tmp: string;
before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'pgpilot-archive-command-'));
});
after(async () => fs.rm(tmp, { recursive: true, force: true }));

/** What PostgreSQL runs: %f replaced by the file name, %% by %. */
function expand(command: string, walName: string): string {
  return command.replace(/%[f%]/g, (m) => (m === '%f' ? walName : '%'));
}

test('archive_command exits 0 at once when the marker exists, with quotes, spaces and % in the spool path', async () => {
  const spool = path.join(tmp, "it's a 100% spool $HOME");
  await fs.mkdir(doneDir(spool), { recursive: true });
  await fs.writeFile(path.join(doneDir(spool), '000000010000000000000001'), '');
  const command = archiveCommand(spool);
  assert.match(command, /%f/);
  const { stdout, stderr } = await promisify(execFile)('sh', ['-c', expand(command, '000000010000000000000001')]);
  assert.equal(stdout + stderr, '');
});

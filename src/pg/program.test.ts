// Unit tests of running programs: output, input, failures with the stderr tail, timeouts, the clean environment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { programEnv, runProgram, tailLines } from './program.js';

test('returns the output and feeds the input', async () => {
  const result = await runProgram('/bin/sh', ['-c', 'cat; echo err >&2'], { input: 'hello' });
  assert.deepEqual(result, { code: 0, stdout: 'hello', stderr: 'err\n' });
});

test('a non-zero exit names the program and the stderr tail', async () => {
  await assert.rejects(runProgram('/bin/sh', ['-c', 'echo first >&2; echo last >&2; exit 3']), (e: Error) => {
    assert.match(e.message, /^sh failed \(exit code 3\): first\nlast$/);
    return true;
  });
});

test('a missing program and a timeout are Program errors', async () => {
  await assert.rejects(runProgram('/nonexistent/initdb', []), { code: 'Program', message: /could not run \/nonexistent\/initdb/ });
  await assert.rejects(runProgram('/bin/sleep', ['10'], { timeoutMs: 100 }), /sleep timed out after 100 ms/);
});

test('the environment drops PG* variables and takes the run-as identity', () => {
  process.env.PGPASSWORD = 'leak';
  try {
    const env = programEnv({ name: 'postgres', uid: 101, gid: 104, home: '/var/lib/postgresql' }, { PGPASSFILE: '/p' });
    assert.equal(env.PGPASSWORD, undefined);
    assert.equal(env.PGPASSFILE, '/p');
    assert.equal(env.HOME, '/var/lib/postgresql');
    assert.equal(env.USER, 'postgres');
  } finally {
    delete process.env.PGPASSWORD;
  }
});

test('tailLines keeps the last non-empty lines', () => {
  assert.equal(tailLines('a\nb\n\nc\n', 2), 'b\nc');
});

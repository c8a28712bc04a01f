// Unit tests of the token check: Bearer, Basic with the token as password, and what is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAuthorized } from './auth.js';

const basic = (userPass: string): string => `Basic ${Buffer.from(userPass).toString('base64')}`;

test('accepts the token as Bearer or as the Basic password', () => {
  assert.ok(isAuthorized('Bearer s3cret', 's3cret'));
  assert.ok(isAuthorized('bearer s3cret', 's3cret'));
  assert.ok(isAuthorized(basic('patroni:s3cret'), 's3cret'));
  assert.ok(isAuthorized(basic(':a:b'), 'a:b'));
});

test('refuses a missing, wrong or malformed header', () => {
  assert.ok(!isAuthorized(undefined, 's3cret'));
  assert.ok(!isAuthorized('Bearer wrong', 's3cret'));
  assert.ok(!isAuthorized('Bearer s3cret extra', 's3cret'));
  assert.ok(!isAuthorized(basic('s3cret'), 's3cret'));
  assert.ok(!isAuthorized('Digest s3cret', 's3cret'));
});

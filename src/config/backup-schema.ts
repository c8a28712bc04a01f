// The schema of spec.backup (manifest) and backup (agent config): repositories, schedules, retention, logical dumps.
import { PgpilotError } from '../base/errors.js';
import { parseCron } from '../model/cron.js';
import { array, boolean, enumOf, got, integer, object, string, type Issue, type Rule } from './schema.js';
import type { BackupSpec } from './types.js';

const cronDoc = 'a 5-field cron expression in UTC, e.g. "0 1 * * 0", or @daily; empty for none';

function cron(description: string): ReturnType<typeof string> {
  return string({ default: '', description: `${description} (${cronDoc}).` });
}

const repoName = string({
  pattern: { regex: /[a-z0-9]([-a-z0-9]*[a-z0-9])?/, doc: 'lowercase letters, digits and dashes' },
  maxLength: 40,
  description: 'Repository name, used by `--repo` and in metrics.',
});

export const backupRepoSchema = object(
  {
    name: repoName,
    path: string({
      default: '',
      pattern: { regex: /(\/.*)?/, doc: 'an absolute directory path', terse: true },
      description: 'Directory of a posix repository (local disk, NFS). Set either path or s3.bucket.',
    }),
    s3: object(
      {
        bucket: string({ default: '', description: 'Bucket of an S3 repository. Set either path or s3.bucket.' }),
        endpoint: string({
          default: '',
          pattern: { regex: /(https?:\/\/\S+)?/, doc: 'an http(s) URL', terse: true },
          description: 'S3 endpoint URL for S3-compatible stores (MinIO, s3rver); empty for AWS.',
        }),
        region: string({ default: 'us-east-1', description: 'S3 region.' }),
        prefix: string({ default: '', description: 'Key prefix inside the bucket, e.g. prod/main.' }),
        credentialsFile: string({
          default: '',
          pattern: { regex: /(\/.*)?/, doc: 'an absolute file path', terse: true },
          description:
            'AWS-style credentials file (aws_access_key_id and aws_secret_access_key lines), mode 0600. Required for S3.',
        }),
        forcePathStyle: boolean({ default: true, description: 'Path-style addressing (needed by most S3-compatible stores).' }),
      },
      { description: 'An S3 repository.' },
    ),
    retention: object(
      {
        full: integer({ min: 1, default: 2, description: 'How many full backups to keep (fullType count), or for how many days.' }),
        fullType: enumOf(['count', 'days'], { default: 'count', description: 'Whether retention.full counts backups or days.' }),
        diff: integer({ min: 0, default: 0, description: 'Differential backups to keep (0: they expire with their full only).' }),
      },
      { description: 'Which backups to keep; diff and incr backups expire with their full.' },
    ),
    schedules: object(
      { full: cron('When to take full backups'), diff: cron('When to take differential backups'), incr: cron('When to take incremental backups') },
      { description: "Backups the leader's agent takes on its own." },
    ),
    compress: object(
      {
        type: enumOf(['zstd', 'lz4', 'gzip', 'none'], { default: 'zstd', description: 'Compression of stored files.' }),
        level: integer({ min: 0, max: 19, default: 0, description: 'Compression level; 0 means the type\'s default (zstd 1, lz4 1, gzip 6).' }),
      },
      { description: 'Compression of everything stored in this repository.' },
    ),
    encryption: object(
      {
        passphraseFile: string({
          default: '',
          pattern: { regex: /(\/.*)?/, doc: 'an absolute file path', terse: true },
          description: 'File holding the passphrase (mode 0600); empty for no encryption. AES-256-GCM, key derived with scrypt.',
        }),
      },
      { description: 'Encryption of everything stored in this repository.' },
    ),
  },
  { description: 'A backup repository: a directory or an S3 bucket.' },
);

export const backupSchema = object(
  {
    repos: array(backupRepoSchema, { default: [], description: 'Backup repositories; empty disables backups and WAL archiving.' }),
    fromStandby: boolean({ default: false, description: 'Read backup data from a streaming replica to spare the primary (the primary when none streams).' }),
    jobs: integer({ min: 1, max: 32, default: 2, description: 'Parallel workers for backup, restore and WAL archiving.' }),
    logical: object(
      {
        repo: string({ default: '', description: 'Repository for dumps; empty means the first one.' }),
        schedule: cron('When to take logical dumps'),
        retention: integer({ min: 1, default: 7, description: 'How many dumps to keep.' }),
        databases: array(string(), { default: [], description: 'Databases to dump; empty means every database except templates.' }),
      },
      { description: 'Logical dumps: pg_dump -Fc per database plus pg_dumpall --globals-only.' },
    ),
  },
  { description: 'Physical backups, the WAL archive and logical dumps.' },
);

/** Each repository has exactly one place, S3 has credentials, names are unique, the logical repo exists. */
export function backupRule<T>(at: string, get: (value: T) => BackupSpec): Rule<T> {
  return {
    doc:
      `Each of ${at}.repos sets exactly one of path and s3.bucket, an S3 repository sets s3.credentialsFile, ` +
      `repository names are unique, and ${at}.logical.repo names one of them.`,
    check: (value) => backupIssues(get(value), at),
  };
}

function backupIssues(spec: BackupSpec, at: string): Issue[] {
  const issues: Issue[] = [];
  spec.repos.forEach((repo, i) => {
    const p = `${at}.repos[${i}]`;
    if (repo.path === '' && repo.s3.bucket === '')
      issues.push({ path: `${p}.path`, problem: 'set either path (a directory) or s3.bucket' });
    if (repo.path !== '' && repo.s3.bucket !== '')
      issues.push({ path: `${p}.s3.bucket`, problem: 'set either path or s3.bucket, not both' });
    if (repo.s3.bucket !== '' && repo.s3.credentialsFile === '')
      issues.push({ path: `${p}.s3.credentialsFile`, problem: 'an S3 repository needs a credentials file' });
    for (const kind of ['full', 'diff', 'incr'] as const) issues.push(...cronIssues(repo.schedules[kind], `${p}.schedules.${kind}`));
    const first = spec.repos.findIndex((r) => r.name === repo.name);
    if (first !== i) issues.push(got(`${p}.name`, `duplicate repository name (see ${at}.repos[${first}])`, repo.name));
  });
  issues.push(...cronIssues(spec.logical.schedule, `${at}.logical.schedule`));
  if (spec.repos.length === 0 && spec.logical.schedule !== '') {
    issues.push({ path: `${at}.logical.schedule`, problem: `needs a repository in ${at}.repos` });
  }
  const logical = spec.logical.repo;
  if (logical !== '' && !spec.repos.some((r) => r.name === logical))
    issues.push(got(`${at}.logical.repo`, `is not one of ${at}.repos[].name`, logical));
  return issues;
}

/** A schedule is empty or a cron expression the scheduler can run. */
function cronIssues(expr: string, path: string): Issue[] {
  if (expr === '') return [];
  try {
    parseCron(expr, path);
    return [];
  } catch (e) {
    return [{ path, problem: e instanceof PgpilotError ? e.message.replace(`${path}: `, '') : String(e) }];
  }
}

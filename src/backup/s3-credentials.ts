// Reads an AWS-style credentials file (aws_access_key_id / aws_secret_access_key), refusing one others can read.
import { readFile, stat } from 'node:fs/promises';
import { PgpilotError, errorMessage } from '../base/errors.js';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** Parses `key = value` lines (an optional `[profile]` header is ignored); both keys are required. */
export function parseS3Credentials(text: string, file: string): S3Credentials {
  const values = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*([A-Za-z_]+)\s*[=:]\s*(\S+)\s*$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) values.set(m[1].toLowerCase(), m[2]);
  }
  const accessKeyId = values.get('aws_access_key_id');
  const secretAccessKey = values.get('aws_secret_access_key');
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    throw new PgpilotError('Config', `S3 credentials file ${file} lacks aws_access_key_id or aws_secret_access_key`, {
      hint: 'write two lines: aws_access_key_id = KEY and aws_secret_access_key = SECRET',
    });
  }
  return { accessKeyId, secretAccessKey };
}

export async function readS3Credentials(file: string): Promise<S3Credentials> {
  let text: string;
  try {
    const st = await stat(file);
    if ((st.mode & 0o077) !== 0) {
      throw new PgpilotError('Config', `S3 credentials file ${file} is readable by other users (mode ${(st.mode & 0o777).toString(8)})`, {
        hint: `chmod 600 ${file}`,
      });
    }
    text = await readFile(file, 'utf8');
  } catch (e) {
    if (e instanceof PgpilotError) throw e;
    throw new PgpilotError('Config', `cannot read S3 credentials file ${file}: ${errorMessage(e)}`, {
      hint: 'check spec.backup.repos[].s3.credentialsFile',
    });
  }
  return parseS3Credentials(text, file);
}

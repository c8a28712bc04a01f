// Named restore points recorded in the repository (`pgpilot restore-point`), so a restore can pick the backup before one.
import { PgpilotError } from '../base/errors.js';
import { decodeBuffer, encodeBuffer } from './codec/codec.js';
import type { Repo } from './repo.js';

export interface RestorePoint {
  name: string;
  lsn: string;
  timeline: number;
  time: string;
}

const pointPath = (name: string): string => `restore-points/${encodeURIComponent(name)}.json`;

export async function recordRestorePoint(repo: Repo, point: RestorePoint): Promise<void> {
  await repo.storage.write(pointPath(point.name), await encodeBuffer({ compress: { type: 'none', level: 0 }, key: repo.key }, Buffer.from(JSON.stringify(point))));
}

export async function findRestorePoint(repo: Repo, name: string): Promise<RestorePoint | undefined> {
  const path = pointPath(name);
  if ((await repo.storage.stat(path)) === undefined) return undefined;
  const plain = await decodeBuffer({ compress: { type: 'none', level: 0 }, key: repo.key }, await repo.storage.readBuffer(path), `${repo.name}:${path}`);
  return JSON.parse(plain.toString('utf8')) as RestorePoint;
}

export async function listRestorePoints(repo: Repo): Promise<string[]> {
  return (await repo.storage.list('restore-points/')).map((o) => decodeURIComponent(o.path.slice('restore-points/'.length, -'.json'.length)));
}

export async function requireRestorePoint(repo: Repo, name: string): Promise<RestorePoint> {
  const point = await findRestorePoint(repo, name);
  if (point !== undefined) return point;
  const known = await listRestorePoints(repo);
  throw new PgpilotError('NotFound', `no restore point "${name}" is recorded in repository ${repo.name}`, {
    hint: `recorded: ${known.join(', ') || 'none'}; create them with pgpilot restore-point NAME POINT`,
  });
}

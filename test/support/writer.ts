// Test clients: a writer that inserts rows as fast as it can into whichever member accepts writes, recording every
// acknowledged row; and a probe that tries a write on every member to catch two writable members at once.
import pg from 'pg';
import { sleep } from '../../src/base/wait.js';

export interface Target {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export interface WriterResult {
  acknowledged: number[];
  errors: number;
  /** Longest time between two acknowledged inserts, ms. */
  longestGapMs: number;
}

async function open(target: Target): Promise<pg.Client> {
  const client = new pg.Client({ ...target, connectionTimeoutMillis: 1000, statement_timeout: 5000 });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** Inserts into `table` (id int primary key) until stop(); targets are tried in turn after any error. */
export function startWriter(targets: () => Target[], table: string): { stop(): Promise<WriterResult> } {
  const acknowledged: number[] = [];
  let errors = 0;
  let running = true;
  let last = Date.now();
  let longestGapMs = 0;
  const loop = (async () => {
    let next = 1;
    let client: pg.Client | undefined;
    let turn = 0;
    while (running) {
      try {
        if (client === undefined) {
          const list = targets();
          const t = list[turn++ % Math.max(list.length, 1)];
          if (t === undefined) throw new Error('no target');
          client = await open(t);
          const ro = await client.query<{ ro: boolean }>('SELECT pg_is_in_recovery() AS ro');
          if (ro.rows[0]?.ro === true) throw new Error('read-only');
        }
        await client.query(`INSERT INTO ${table} (id) VALUES ($1)`, [next]);
        acknowledged.push(next);
        next += 1;
        const now = Date.now();
        longestGapMs = Math.max(longestGapMs, now - last);
        last = now;
      } catch {
        errors += 1;
        await client?.end().catch(() => undefined);
        client = undefined;
        await sleep(20);
      }
    }
    await client?.end().catch(() => undefined);
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { acknowledged, errors, longestGapMs };
    },
  };
}

/** Every `intervalMs`, tries a write on every member; records the rounds in which more than one accepted it. */
export function startSplitBrainProbe(targets: () => Target[], table: string, intervalMs = 100): { stop(): Promise<{ rounds: number; doubleWriters: string[] }> } {
  let running = true;
  let rounds = 0;
  const doubleWriters: string[] = [];
  const loop = (async () => {
    while (running) {
      const accepted = await Promise.all(targets().map(async (t) => {
        const c = new pg.Client({ ...t, connectionTimeoutMillis: 500, statement_timeout: 1000 });
        c.on('error', () => undefined);
        try {
          await c.connect();
          await c.query(`INSERT INTO ${table} (at) VALUES (now())`);
          return `${t.host}:${t.port}`;
        } catch {
          return undefined;
        } finally {
          await c.end().catch(() => undefined);
        }
      }));
      const writers = accepted.filter((a): a is string => a !== undefined);
      if (writers.length > 1) doubleWriters.push(writers.join(' and '));
      rounds += 1;
      await sleep(intervalMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { rounds, doubleWriters };
    },
  };
}

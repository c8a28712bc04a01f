// Client routing for the HA loop: the leader keeps the read-write pooler on itself and the read-only one on replicas.
import { errorMessage } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import type { AgentConfig } from '../config/types.js';
import type { ClientRouting, Upstream } from '../ha/local.js';
import type { RunAs } from '../pg/os-user.js';
import { poolerAdminUser, poolerPair } from '../pooler/pair.js';

export function poolerRouting(config: AgentConfig, superuserPassword: string, runAs: RunAs, logger: Logger): ClientRouting | undefined {
  const p = config.pooler;
  if (!p.enabled) return undefined;
  const { rw, ro } = poolerPair({ ...p, admin: { user: poolerAdminUser, password: superuserPassword }, runAs });
  // Set once this agent has resumed the read-write pooler as leader: a switchover paused it on the old leader.
  let resumed = false;
  return {
    async route(primary: Upstream, replicas: Upstream[]) {
      const changed = (await rw.pointAt([{ host: primary.host, port: primary.port }])).changed;
      if (changed || !resumed) {
        await rw.resume();
        resumed = true;
        if (changed) logger.info('read-write pooler points at the primary', { primary: primary.name });
      }
      await ro.pointAt(replicas.map((r) => ({ host: r.host, port: r.port })));
    },
    async pauseWrites() {
      resumed = false;
      try {
        await rw.pause(5000);
      } catch (e) {
        logger.warn('could not pause the read-write pooler: clients may see errors during the switchover', { error: errorMessage(e) });
      }
    },
    async authorize(users) {
      await rw.updateAuth(users);
      await ro.updateAuth(users);
    },
  };
}

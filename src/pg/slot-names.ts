// Member names as replication slot names: lowercase letters, digits and underscores, at most 63 characters.
import { PgpilotError } from '../base/errors.js';

const MAX_SLOT_NAME = 63;

/** The replication slot name for a member, e.g. "ha-1" -> "ha_1", "Node.B" -> "node_b". */
export function slotName(member: string): string {
  const name = member.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, MAX_SLOT_NAME);
  if (name === '') {
    throw new PgpilotError('Config', 'an empty member name has no replication slot name', {
      hint: 'give every member a non-empty name',
    });
  }
  return name;
}

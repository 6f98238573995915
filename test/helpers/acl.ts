/** Access set-ups that tests share, applied to a running simulator's state. */
import type { RunningSimulator } from '../../src/simulator/server.js';

/**
 * The usual operator: the `operators` group (ops@pve, token ops@pve!ci without privilege
 * separation) keeps PVEVMAdmin on /vms and auditing of the nodes, but holds nothing on the pools,
 * so it lacks Pool.Audit. Returns that token.
 */
export function withoutPoolAudit(sim: RunningSimulator): { tokenId: string; secret: string } {
  const c = sim.sim.cluster;
  c.acl = c.acl.filter((a) => !(a.path === '/' && a.ugid === 'operators'));
  c.acl.push({
    path: '/nodes',
    type: 'group',
    ugid: 'operators',
    roleid: 'PVEAuditor',
    propagate: true,
  } as (typeof c.acl)[number]);
  return {
    tokenId: 'ops@pve!ci',
    secret: c.users.get('ops@pve')?.tokens.get('ci')?.secret ?? '',
  };
}

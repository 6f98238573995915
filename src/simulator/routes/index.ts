/** Every route the simulator serves, keyed `METHOD /path/template` as in the contract. */
import type { Routes } from '../context.js';
import { accessRoutes } from './access.js';
import { adminRoutes } from './admin.js';
import { agentRoutes } from './agent.js';
import { clusterRoutes } from './cluster.js';
import { firewallRoutes } from './firewall.js';
import { guestRoutes } from './guests.js';
import { jobRoutes } from './jobs.js';
import { nodeBulkRoutes } from './node-bulk.js';
import { nodeRoutes } from './nodes.js';
import { snapshotRoutes } from './snapshots.js';
import { storageRoutes } from './storage.js';
import { taskRoutes } from './tasks.js';

export const routes: Routes = {
  ...clusterRoutes,
  ...nodeRoutes,
  ...nodeBulkRoutes,
  ...taskRoutes,
  ...guestRoutes('qemu'),
  ...guestRoutes('lxc'),
  ...snapshotRoutes('qemu'),
  ...snapshotRoutes('lxc'),
  ...agentRoutes,
  ...storageRoutes,
  ...accessRoutes,
  ...adminRoutes,
  ...jobRoutes,
  ...firewallRoutes,
};

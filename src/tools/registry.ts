/**
 * Every tool, and the choice of which a server offers: toolsets (`core` by default, `all` for
 * every one), single tools added, tools excluded, and read-only mode, applied in that order.
 * An unknown name is an error, not a silent no-op.
 */
import { ConfigError } from '../config/raw.js';
import { accessTools } from './access.js';
import { agentExecTools, agentTools } from './agent.js';
import { apiTools } from './api.js';
import { backupTools } from './backup.js';
import { bulkTools } from './bulk.js';
import { clusterTools } from './cluster.js';
import type { AnyTool } from './define.js';
import { guestTools } from './guests.js';
import { lifecycleTools } from './lifecycle.js';
import { metricsTools } from './metrics.js';
import { nodeTools } from './nodes.js';
import { powerTools } from './power.js';
import { provisionTools } from './provision.js';
import { snapshotTools } from './snapshots.js';
import { storageTools } from './storage.js';
import { taskTools } from './tasks.js';
import { TOOLSETS, type Toolset } from './toolsets.js';

/** Every tool, by subject; each declares its toolset. */
export const ALL_TOOLS: AnyTool[] = [
  ...nodeTools,
  ...guestTools,
  ...powerTools,
  ...lifecycleTools,
  ...snapshotTools,
  ...storageTools,
  ...taskTools,
  ...bulkTools,
  ...provisionTools,
  ...backupTools,
  ...metricsTools,
  ...agentTools,
  ...agentExecTools,
  ...accessTools,
  ...clusterTools,
  ...apiTools,
];

export interface ToolSelection {
  toolsets: (Toolset | 'all')[];
  tools?: string[];
  excludeTools?: string[];
  readOnly?: boolean;
}

/** A tool or toolset the configuration names that does not exist. */
export class SelectionError extends ConfigError {}

export function selectTools(selection: ToolSelection, catalogue: AnyTool[] = ALL_TOOLS): AnyTool[] {
  const byName = new Map(catalogue.map((t) => [t.name, t]));
  for (const name of [...(selection.tools ?? []), ...(selection.excludeTools ?? [])]) {
    if (!byName.has(name)) throw new SelectionError(`unknown tool '${name}'`);
  }
  for (const set of selection.toolsets) {
    if (set !== 'all' && !TOOLSETS.includes(set))
      throw new SelectionError(`unknown toolset '${set}': use ${TOOLSETS.join(', ')} or all`);
  }
  const sets = new Set<string>(selection.toolsets.includes('all') ? TOOLSETS : selection.toolsets);
  const chosen = new Set(catalogue.filter((t) => sets.has(t.toolset)).map((t) => t.name));
  for (const name of selection.tools ?? []) chosen.add(name);
  for (const name of selection.excludeTools ?? []) chosen.delete(name);
  return catalogue.filter(
    (t) => chosen.has(t.name) && (!selection.readOnly || t.access === 'read'),
  );
}

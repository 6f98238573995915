/**
 * Every tool, and the choice of which a server offers: toolsets (`core` by default, `all` for
 * every one), single tools added, tools excluded, and read-only mode, applied in that order.
 * An unknown name is an error, not a silent no-op.
 */
import { ConfigError } from '../config/raw.js';
import { bulkTools } from './bulk.js';
import type { AnyTool } from './define.js';
import { guestTools } from './guests.js';
import { lifecycleTools } from './lifecycle.js';
import { nodeTools } from './nodes.js';
import { powerTools } from './power.js';
import { snapshotTools } from './snapshots.js';
import { storageTools } from './storage.js';
import { taskTools } from './tasks.js';
import { TOOLSETS, type Toolset } from './toolsets.js';

/**
 * The tool files, in the order tools are listed, with the toolsets their tools belong to. The
 * default toolset's files come with the registry; the others are loaded only by a server that
 * offers them (each is a chunk of its own in the build). Loading the default set as separate
 * chunks too would cost a start more in module loading than it saves.
 */
const MODULES: { toolsets: Toolset[]; load: () => Promise<AnyTool[]> }[] = [
  { toolsets: ['core'], load: async () => nodeTools },
  { toolsets: ['core'], load: async () => guestTools },
  { toolsets: ['core'], load: async () => powerTools },
  { toolsets: ['core', 'provision'], load: async () => lifecycleTools },
  { toolsets: ['core'], load: async () => snapshotTools },
  { toolsets: ['core'], load: async () => storageTools },
  { toolsets: ['core'], load: async () => taskTools },
  { toolsets: ['core'], load: async () => bulkTools },
  { toolsets: ['provision'], load: async () => (await import('./provision.js')).provisionTools },
  { toolsets: ['provision'], load: async () => (await import('./evacuate.js')).evacuateTools },
  { toolsets: ['backup'], load: async () => (await import('./backup.js')).backupTools },
  {
    toolsets: ['metrics'],
    load: async () => [
      ...(await import('./metrics.js')).metricsTools,
      ...(await import('./dashboard.js')).dashboardTools,
    ],
  },
  {
    toolsets: ['agent', 'agent_exec'],
    load: async () => {
      const m = await import('./agent.js');
      return [...m.agentTools, ...m.agentExecTools];
    },
  },
  { toolsets: ['access'], load: async () => (await import('./access.js')).accessTools },
  { toolsets: ['cluster'], load: async () => (await import('./cluster.js')).clusterTools },
  { toolsets: ['firewall'], load: async () => (await import('./firewall.js')).firewallTools },
  { toolsets: ['api'], load: async () => (await import('./api.js')).apiTools },
];

/** Every tool, loaded. */
export async function allTools(): Promise<AnyTool[]> {
  return (await Promise.all(MODULES.map((m) => m.load()))).flat();
}

/**
 * The catalogue a selection chooses from (selectTools): its toolsets' files, loaded alone; every
 * file when single tools are named, so that an unknown name is caught here, at the start.
 */
export async function loadTools(selection: ToolSelection): Promise<AnyTool[]> {
  const sets = selection.toolsets.includes('all') ? TOOLSETS : selection.toolsets;
  const named = Boolean(selection.tools?.length || selection.excludeTools?.length);
  const modules = MODULES.filter((m) => named || m.toolsets.some((t) => sets.includes(t)));
  const catalogue = (await Promise.all(modules.map((m) => m.load()))).flat();
  selectTools({ ...selection, readOnly: false }, catalogue);
  // The whole catalogue, not the selection: choosing again from a selection that lacks an
  // excluded tool would call its name unknown.
  return catalogue;
}

export interface ToolSelection {
  toolsets: (Toolset | 'all')[];
  tools?: string[];
  excludeTools?: string[];
  readOnly?: boolean;
}

/** A tool or toolset the configuration names that does not exist. */
export class SelectionError extends ConfigError {}

export function selectTools(selection: ToolSelection, catalogue: AnyTool[]): AnyTool[] {
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

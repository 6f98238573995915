/** Power actions on many guests at once. */

import { z } from 'zod';
import type { GuestType } from '../pve/index.js';
import { kindOf } from '../pve/index.js';
import { hasTag, namePattern, node, ToolError, vmid, waitTimeout } from './common.js';
import { type AnyTool, defineTool, ok } from './define.js';
import { listGuests } from './guest-views.js';
import { table } from './render.js';

const bulkResult = z.object({
  vmid: z.number(),
  name: z.string(),
  node: z.string(),
  type: z.enum(['qemu', 'lxc']),
  result: z.enum(['done', 'skipped', 'failed', 'running', 'refused']),
  detail: z.string(),
  upid: z.string().optional(),
});
type BulkResult = z.infer<typeof bulkResult>;

const bulkGuests = defineTool({
  name: 'proxmox_bulk_guests',
  title: 'Start, shut down or stop many guests',
  description:
    'Starts, shuts down or stops many guests, chosen by vmids, filters or all: true, in parallel; skips templates and guests already so. Returns a per-guest table.',
  toolset: 'core',
  access: 'destructive',
  targets: (a) => ({ selected: true, nodes: [a.node] }),
  input: z.object({
    action: z.enum(['start', 'shutdown', 'stop']),
    vmids: z.array(vmid).max(10_000).optional(),
    node: node.optional(),
    tag: z.string().optional(),
    pool: z.string().optional(),
    name: z.string().optional().describe('Substring, or a * ? pattern'),
    type: z.enum(['qemu', 'lxc']).optional(),
    all: z.boolean().default(false),
    forceStop: z.boolean().default(false).describe('shutdown: stop hard after the timeout'),
    timeout: waitTimeout,
  }),
  output: z.object({
    action: z.string(),
    done: z.number(),
    skipped: z.number(),
    failed: z.number(),
    running: z.number(),
    refused: z.number(),
    results: z.array(bulkResult),
  }),
  async run(args, ctx) {
    const selectors =
      args.vmids?.length || args.node || args.tag || args.pool || args.name || args.type;
    if (!selectors && !args.all)
      throw new ToolError(
        'Choose the guests: give vmids, a filter (node, tag, pool, name, type), or all: true.',
      );
    const match = namePattern(args.name);
    const rows = await listGuests(ctx.pve, args.type, ctx.signal);
    const wanted = args.vmids ? new Set(args.vmids) : undefined;
    const targets = rows
      .filter((r) => !wanted || wanted.has(r.vmid ?? 0))
      .filter((r) => !args.node || r.node === args.node)
      .filter((r) => !args.tag || hasTag(r.tags, args.tag))
      .filter((r) => !args.pool || r.pool === args.pool)
      .filter((r) => !match || match(r.name ?? ''))
      .sort((a, b) => (a.vmid ?? 0) - (b.vmid ?? 0));
    const results: BulkResult[] = [];
    for (const id of wanted ?? []) {
      if (!targets.some((t) => t.vmid === id))
        results.push({
          vmid: id,
          name: '',
          node: '',
          type: 'qemu',
          result: 'failed',
          detail: 'no such guest',
        });
    }
    const goal = args.action === 'start' ? 'running' : 'stopped';
    const queue: (() => Promise<void>)[] = [];
    let finished = 0;
    for (const r of targets) {
      const base = {
        vmid: r.vmid ?? 0,
        name: r.name ?? '',
        node: r.node ?? '',
        type: r.type as GuestType,
      };
      try {
        ctx.guard({ vmid: base.vmid, node: base.node, pool: r.pool, tags: r.tags });
      } catch (err) {
        results.push({ ...base, result: 'refused', detail: (err as Error).message });
        continue;
      }
      if (r.template) results.push({ ...base, result: 'skipped', detail: 'template' });
      else if (r.status === 'unknown')
        results.push({ ...base, result: 'failed', detail: 'node offline' });
      else if (r.status === goal)
        results.push({ ...base, result: 'skipped', detail: `already ${goal}` });
      else {
        queue.push(async () => {
          const entry: BulkResult = { ...base, result: 'failed', detail: '' };
          try {
            const params = args.action === 'shutdown' && args.forceStop ? { forceStop: true } : {};
            const task = await ctx.pve.guests(base.type)[args.action](base.node, base.vmid, params);
            entry.upid = task.upid;
            const outcome = await task.wait({ timeoutMs: args.timeout * 1000, signal: ctx.signal });
            if (outcome.timedOut)
              Object.assign(entry, { result: 'running', detail: 'still running at the timeout' });
            else if (outcome.ok)
              Object.assign(entry, { result: 'done', detail: outcome.exitstatus ?? 'OK' });
            else entry.detail = outcome.exitstatus ?? 'failed';
          } catch (err) {
            entry.detail = err instanceof Error ? err.message : String(err);
          }
          results.push(entry);
          finished++;
          await ctx.progress(
            `${finished}/${queue.length}: ${kindOf(base.type)} ${base.vmid} ${base.name}: ${entry.result}${entry.detail ? ` (${entry.detail})` : ''}`,
            { done: finished, total: queue.length },
          );
        });
      }
    }
    // As many at once as the client lets through; each holds a slot while its task runs.
    let next = 0;
    const lanes = Math.max(1, Math.min(queue.length, ctx.pve.client.maxInFlight));
    await Promise.all(
      Array.from({ length: lanes }, async () => {
        while (next < queue.length) await queue[next++]?.();
      }),
    );
    results.sort((a, b) => a.vmid - b.vmid);
    const count = (k: BulkResult['result']) => results.filter((r) => r.result === k).length;
    const summary = {
      done: count('done'),
      skipped: count('skipped'),
      failed: count('failed'),
      running: count('running'),
      refused: count('refused'),
    };
    const text = results.length
      ? `${args.action}: ${summary.done} done, ${summary.skipped} skipped, ${summary.failed} failed${summary.running ? `, ${summary.running} still running` : ''}${summary.refused ? `, ${summary.refused} refused by policy` : ''}\n${table(
          results,
          [
            ['VMID', (r) => r.vmid],
            ['NAME', (r) => r.name],
            ['NODE', (r) => r.node],
            ['RESULT', (r) => r.result],
            ['DETAIL', (r) => r.detail],
          ],
        )}`
      : 'No guests match.';
    return ok({ action: args.action, ...summary, results }, text);
  },
});

export const bulkTools: AnyTool[] = [bulkGuests];

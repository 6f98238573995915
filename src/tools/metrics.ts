/**
 * The `metrics` toolset: node and guest RRD metrics over a timeframe, summarised per series as
 * min, average, max and last, never dumped as raw points.
 */
import { z } from 'zod';
import { idAndName, kindOf } from '../pve/index.js';
import { node, resolveGuest, vmid } from './common.js';
import { type AnyTool, defineTool, guestTargets, ok } from './define.js';
import { bytes, percent, table } from './render.js';

const timeframe = z.enum(['hour', 'day', 'week', 'month', 'year']).default('hour');
const cf = z
  .enum(['AVERAGE', 'MAX'])
  .default('AVERAGE')
  .describe('How PVE consolidates each point');
const seriesSummary = z.object({
  series: z.string(),
  unit: z.string(),
  min: z.number(),
  avg: z.number(),
  max: z.number(),
  last: z.number(),
  points: z.number(),
});
type Series = z.infer<typeof seriesSummary>;

/** Summarises each named series; points PVE has no value for are skipped. */
function summarise(
  points: Record<string, number>[],
  series: [name: string, unit: string, value: (p: Record<string, number>) => number | undefined][],
): Series[] {
  return series.flatMap(([name, unit, value]) => {
    const values = points
      .map(value)
      .filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    if (!values.length) return [];
    const sum = values.reduce((a, b) => a + b, 0);
    return [
      {
        series: name,
        unit,
        min: Math.min(...values),
        avg: sum / values.length,
        max: Math.max(...values),
        last: values[values.length - 1] as number,
        points: values.length,
      },
    ];
  });
}

function render(s: Series[]): string {
  const fmt = (unit: string, v: number) =>
    unit === 'fraction'
      ? percent(v)
      : unit === 'bytes'
        ? bytes(v)
        : unit === 'bytes/s'
          ? `${bytes(v)}/s`
          : v.toFixed(2);
  return table(s, [
    ['SERIES', (x) => x.series],
    ['MIN', (x) => fmt(x.unit, x.min)],
    ['AVG', (x) => fmt(x.unit, x.avg)],
    ['MAX', (x) => fmt(x.unit, x.max)],
    ['LAST', (x) => fmt(x.unit, x.last)],
  ]);
}

const ratio = (a: string, b: string) => (p: Record<string, number>) =>
  p[a] !== undefined && p[b] ? (p[a] as number) / (p[b] as number) : undefined;
const field = (k: string) => (p: Record<string, number>) => p[k];

const output = z.object({
  target: z.string(),
  timeframe: z.string(),
  cf: z.string(),
  series: z.array(seriesSummary),
});

const nodeMetrics = defineTool({
  name: 'proxmox_get_node_metrics',
  title: 'Node metrics',
  description:
    "Summarises a node's CPU, load, memory, root disk and network over a timeframe (hour to year): min, average, max and last per series.",
  toolset: 'metrics',
  access: 'read',
  input: z.object({ node, timeframe, cf }),
  output,
  async run(args, ctx) {
    const points = await ctx.pve.nodes.rrddata(args.node, args.timeframe, args.cf);
    const series = summarise(points, [
      ['cpu', 'fraction', field('cpu')],
      ['iowait', 'fraction', field('iowait')],
      ['loadavg', 'load', field('loadavg')],
      ['memory', 'fraction', ratio('memused', 'memtotal')],
      ['rootfs', 'fraction', ratio('rootused', 'roottotal')],
      ['netin', 'bytes/s', field('netin')],
      ['netout', 'bytes/s', field('netout')],
    ]);
    return ok(
      { target: args.node, timeframe: args.timeframe, cf: args.cf, series },
      `${args.node}, last ${args.timeframe} (${args.cf}):\n${render(series)}`,
    );
  },
});

const guestMetrics = defineTool({
  name: 'proxmox_get_guest_metrics',
  title: 'VM or container metrics',
  description:
    "Summarises a VM's or container's CPU, memory, disk and network I/O over a timeframe (hour to year): min, average, max and last per series.",
  toolset: 'metrics',
  access: 'read',
  targets: guestTargets,
  input: z.object({ vmid, timeframe, cf }),
  output,
  async run(args, ctx) {
    const guest = await resolveGuest(ctx, args.vmid);
    const points = await ctx.pve
      .guests(guest.type)
      .rrddata(guest.node, guest.vmid, args.timeframe, args.cf);
    const series = summarise(points, [
      ['cpu', 'fraction', field('cpu')],
      ['memory', 'fraction', ratio('mem', 'maxmem')],
      ['netin', 'bytes/s', field('netin')],
      ['netout', 'bytes/s', field('netout')],
      ['diskread', 'bytes/s', field('diskread')],
      ['diskwrite', 'bytes/s', field('diskwrite')],
    ]);
    const name = `${kindOf(guest.type)} ${idAndName(guest)}`;
    return ok(
      { target: name, timeframe: args.timeframe, cf: args.cf, series },
      `${name}, last ${args.timeframe} (${args.cf}):\n${render(series)}`,
    );
  },
});

export const metricsTools: AnyTool[] = [nodeMetrics, guestMetrics];

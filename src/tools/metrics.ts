/**
 * The `metrics` toolset: node and guest RRD metrics over a timeframe, summarised per series as
 * min, average, max and last, never dumped as raw points.
 */
import { z } from 'zod';
import { idAndName, kindOf } from '../pve/index.js';
import { node, resolveGuest, ToolError, vmid } from './common.js';
import { type AnyTool, defineTool, guestTargets, ok } from './define.js';
import { bytes, percent, table } from './render.js';

const timeframe = z.enum(['hour', 'day', 'week', 'month', 'year']).default('hour');
type Timeframe = z.output<typeof timeframe>;
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
function summarise(points: Record<string, number>[], series: Picker[]): Series[] {
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
  charted: z.array(z.string()).optional(),
});

const chartInput = {
  chart: z.boolean().default(false).describe('Add a PNG chart of the series'),
  chartSeries: z
    .array(z.string())
    .max(8)
    .optional()
    .describe('Series to chart, of one unit (default: cpu and memory)'),
};

type Picker = [
  name: string,
  unit: string,
  value: (p: Record<string, number>) => number | undefined,
];

/**
 * The summary text, and with `chart` a PNG of the chosen series over the timeframe; a chart with
 * nothing to draw is said, not drawn.
 */
async function answer(
  target: string,
  args: { timeframe: Timeframe; cf: string; chart: boolean; chartSeries?: string[] },
  points: Record<string, number>[],
  pickers: Picker[],
  /** Why no chart is drawn though one was asked for. */
  noChart?: string,
) {
  const series = summarise(points, pickers);
  const data = { target, timeframe: args.timeframe, cf: args.cf, series };
  const text = `${target}, last ${args.timeframe} (${args.cf}):\n${series.length ? render(series) : 'no data'}`;
  if (!args.chart) return ok(data, text);
  if (noChart) return ok(data, `${text}\nNo chart: ${noChart}.`);
  const wanted = args.chartSeries ?? ['cpu', 'memory'];
  const chosen = wanted.map((name) => pickers.find((p) => p[0] === name));
  const unknown = wanted.filter((_, i) => !chosen[i]);
  if (unknown.length)
    throw new ToolError(
      `No series ${unknown.join(', ')} to chart: the series are ${pickers.map((p) => p[0]).join(', ')}.`,
    );
  const units = new Set(chosen.map((p) => p?.[1]));
  if (units.size > 1)
    throw new ToolError(
      `The series ${wanted.join(', ')} have different units (${[...units].join(', ')}): chart one unit at a time.`,
    );
  const drawn = (chosen as Picker[])
    .map(([name, , value]) => ({
      name,
      points: points.flatMap((p) => {
        const v = value(p);
        return typeof v === 'number' && Number.isFinite(v) && p.time !== undefined
          ? [{ time: p.time, value: v }]
          : [];
      }),
    }))
    .filter((s) => s.points.length);
  if (!drawn.length)
    return ok(
      data,
      `${text}\nNo chart: ${target} has no data for ${wanted.join(', ')} in the last ${args.timeframe}.`,
    );
  const { renderChart } = await import('./chart.js');
  const png = await renderChart({
    title: `${target}: ${wanted.join(', ')}, last ${args.timeframe}`,
    unit: (chosen[0] as Picker)[1] as 'fraction' | 'bytes/s' | 'load',
    timeframe: args.timeframe,
    series: drawn,
  });
  return {
    ...ok(
      { ...data, charted: drawn.map((s) => s.name) },
      `${text}\nChart: ${drawn.map((s) => s.name).join(', ')} (PNG).`,
    ),
    images: [{ data: png.toString('base64'), mimeType: 'image/png' as const }],
  };
}

const NODE_SERIES: Picker[] = [
  ['cpu', 'fraction', field('cpu')],
  ['iowait', 'fraction', field('iowait')],
  ['loadavg', 'load', field('loadavg')],
  ['memory', 'fraction', ratio('memused', 'memtotal')],
  ['rootfs', 'fraction', ratio('rootused', 'roottotal')],
  ['netin', 'bytes/s', field('netin')],
  ['netout', 'bytes/s', field('netout')],
];

const nodeMetrics = defineTool({
  name: 'proxmox_get_node_metrics',
  title: 'Node metrics',
  description:
    "Summarises a node's CPU, load, memory, root disk and network over a timeframe (hour to year): min, average, max and last per series; with chart: true, also an 800x400 PNG chart of chosen series.",
  toolset: 'metrics',
  access: 'read',
  input: z.object({ node, timeframe, cf, ...chartInput }),
  output,
  async run(args, ctx) {
    const points = await ctx.pve.nodes.rrddata(args.node, args.timeframe, args.cf);
    // PVE answers a node's RRD from its own copy even when the node is down (no proxyto in
    // pve-manager Nodes.pm rrddata): a chart of it would show an old picture as if current.
    const status = args.chart
      ? (await ctx.pve.nodes.list()).find((n) => n.node === args.node)?.status
      : 'online';
    return answer(
      args.node,
      args,
      points,
      NODE_SERIES,
      status === 'online'
        ? undefined
        : `node ${args.node} is ${status ?? 'unknown'}, so its figures stop when it went down`,
    );
  },
});

const guestMetrics = defineTool({
  name: 'proxmox_get_guest_metrics',
  title: 'VM or container metrics',
  description:
    "Summarises a VM's or container's CPU, memory, disk and network I/O over a timeframe (hour to year): min, average, max and last per series; with chart: true, also an 800x400 PNG chart of chosen series.",
  toolset: 'metrics',
  access: 'read',
  targets: guestTargets,
  input: z.object({ vmid, timeframe, cf, ...chartInput }),
  output,
  async run(args, ctx) {
    const guest = await resolveGuest(ctx, args.vmid);
    const points = await ctx.pve
      .guests(guest.type)
      .rrddata(guest.node, guest.vmid, args.timeframe, args.cf);
    return answer(`${kindOf(guest.type)} ${idAndName(guest)}`, args, points, [
      ['cpu', 'fraction', field('cpu')],
      ['memory', 'fraction', ratio('mem', 'maxmem')],
      ['netin', 'bytes/s', field('netin')],
      ['netout', 'bytes/s', field('netout')],
      ['diskread', 'bytes/s', field('diskread')],
      ['diskwrite', 'bytes/s', field('diskwrite')],
    ]);
  },
});

export const metricsTools: AnyTool[] = [nodeMetrics, guestMetrics];

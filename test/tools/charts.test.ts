/** Metric charts as PNG image content (src/tools/chart.ts, src/tools/metrics.ts). */
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type McpHarness, startHarness } from '../helpers/mcp.js';

let h: McpHarness;
beforeAll(async () => {
  h = await startHarness({ config: { toolsets: ['all'] } });
});
afterAll(() => h.close());

type Content = { type: string; text?: string; data?: string; mimeType?: string };

async function call(name: string, args: Record<string, unknown>) {
  const r = await h.client.callTool({ name, arguments: args });
  const content = r.content as Content[];
  return {
    isError: r.isError,
    text: content.find((c) => c.type === 'text')?.text ?? '',
    images: content.filter((c) => c.type === 'image'),
    structured: r.structuredContent as Record<string, unknown> | undefined,
  };
}

/** The decoded picture, with how many colours it has and the share of its pixels not white. */
function look(data: string) {
  const png = PNG.sync.read(Buffer.from(data, 'base64'));
  const colours = new Set<number>();
  let inked = 0;
  for (let i = 0; i < png.data.length; i += 4) {
    const [r, g, b] = [png.data[i], png.data[i + 1], png.data[i + 2]] as number[];
    colours.add(((r as number) << 16) | ((g as number) << 8) | (b as number));
    if ((r as number) < 240 || (g as number) < 240 || (b as number) < 240) inked++;
  }
  return {
    width: png.width,
    height: png.height,
    colours: colours.size,
    inked: inked / (png.width * png.height),
  };
}

describe('charts', () => {
  it("draws a node's CPU and memory as an 800x400 PNG beside the summary", async () => {
    const r = await call('proxmox_get_node_metrics', {
      node: 'pve1',
      timeframe: 'day',
      chart: true,
    });
    expect(r.isError, r.text).toBeFalsy();
    expect(r.text).toMatch(/\nChart: cpu, memory \(PNG\)\.$/);
    expect(r.structured?.charted).toEqual(['cpu', 'memory']);
    expect(r.images).toHaveLength(1);
    expect(r.images[0]?.mimeType).toBe('image/png');
    const picture = look(r.images[0]?.data ?? '');
    expect(picture).toMatchObject({ width: 800, height: 400 });
    // Lines, axes, a legend and a title: many colours, and ink on a fair part of the picture.
    expect(picture.colours).toBeGreaterThan(20);
    expect(picture.inked).toBeGreaterThan(0.02);
    // Without chart: true, no picture.
    expect((await call('proxmox_get_node_metrics', { node: 'pve1' })).images).toEqual([]);
  });

  it('draws the series asked for, of one unit, and says when they mix units', async () => {
    const r = await call('proxmox_get_guest_metrics', {
      vmid: 100,
      chart: true,
      chartSeries: ['netin', 'netout'],
    });
    expect(r.images).toHaveLength(1);
    expect(look(r.images[0]?.data ?? '').inked).toBeGreaterThan(0.02);
    const mixed = await call('proxmox_get_guest_metrics', {
      vmid: 100,
      chart: true,
      chartSeries: ['cpu', 'netin'],
    });
    expect(mixed.isError).toBe(true);
    expect(mixed.text).toMatch(/different units \(fraction, bytes\/s\): chart one unit at a time/);
  });

  it('says so instead of drawing for an offline node or a guest without data', async () => {
    const offline = await call('proxmox_get_node_metrics', { node: 'pve3', chart: true });
    expect(offline.images).toEqual([]);
    expect(offline.text).toMatch(
      /\nNo chart: node pve3 is offline, so its figures stop when it went down\.$/,
    );
    // A guest made a moment ago: pvestatd has not reported on it yet, so its RRD holds nothing.
    const made = await h.call('proxmox_create_vm', { name: 'chartless', vmid: 180 });
    expect(made.isError, made.text).toBeFalsy();
    const fresh = await call('proxmox_get_guest_metrics', { vmid: 180, chart: true });
    expect(fresh.images).toEqual([]);
    expect(fresh.text).toMatch(/No chart: VM 180 \(chartless\) has no data for cpu, memory/);
  });
});

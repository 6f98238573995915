/**
 * Charts of metric series as PNG images: a Vega-Lite spec, rendered to SVG by Vega and to PNG by
 * resvg (WebAssembly) with the DejaVu Sans font. The build ships the WebAssembly and the font in
 * dist/assets; this module is loaded only when a chart is asked for.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initWasm, Resvg } from '@resvg/resvg-wasm';
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export interface Chart {
  title: string;
  /** What the values are: a share (drawn as %), bytes per second, or a plain number. */
  unit: 'fraction' | 'bytes/s' | 'load';
  /** The timeframe shown: the time axis labels hours, days or months. */
  timeframe: 'hour' | 'day' | 'week' | 'month' | 'year';
  series: { name: string; points: { time: number; value: number }[] }[];
}

export const CHART_WIDTH = 800;
export const CHART_HEIGHT = 400;

/** A file the build puts beside the server (dist/assets), else its package's in a checkout. */
function asset(name: string, inPackage: string): Buffer {
  const built = join(dirname(fileURLToPath(import.meta.url)), '..', 'assets', name);
  return readFileSync(
    existsSync(built) ? built : createRequire(import.meta.url).resolve(inPackage),
  );
}

let font: Buffer | undefined;
let ready: Promise<void> | undefined;
function renderer(): Promise<void> {
  ready ??= initWasm(asset('resvg.wasm', '@resvg/resvg-wasm/index_bg.wasm')).then(() => {
    font = asset('DejaVuSans.ttf', 'dejavu-fonts-ttf/ttf/DejaVuSans.ttf');
  });
  return ready;
}

const TIME_FORMAT = {
  hour: '%H:%M',
  day: '%H:%M',
  week: '%a %d',
  month: '%b %d',
  year: '%b %Y',
} as const;

/** Bytes per second in the unit its largest value reads best in. */
function byteScale(max: number): [number, string] {
  const units = ['B/s', 'KiB/s', 'MiB/s', 'GiB/s'];
  let i = 0;
  while (i < units.length - 1 && max >= 1024 ** (i + 1)) i++;
  return [1024 ** i, units[i] as string];
}

/** The chart as a PNG of CHART_WIDTH x CHART_HEIGHT pixels. */
export async function renderChart(chart: Chart): Promise<Buffer> {
  const max = Math.max(0, ...chart.series.flatMap((s) => s.points.map((p) => p.value)));
  const [divisor, label] =
    chart.unit === 'bytes/s'
      ? byteScale(max)
      : chart.unit === 'fraction'
        ? [1, 'used']
        : [1, 'load'];
  const values = chart.series.flatMap((s) =>
    s.points.map((p) => ({ time: p.time * 1000, value: p.value / divisor, series: s.name })),
  );
  const spec: TopLevelSpec = {
    width: CHART_WIDTH,
    height: CHART_HEIGHT,
    autosize: { type: 'fit', contains: 'padding' },
    padding: 12,
    background: 'white',
    title: { text: chart.title, fontSize: 22, anchor: 'start' },
    data: { values },
    mark: { type: 'line', strokeWidth: 2.5 },
    encoding: {
      x: {
        field: 'time',
        type: 'temporal',
        scale: { type: 'utc' },
        axis: {
          title: 'time (UTC)',
          format: TIME_FORMAT[chart.timeframe],
          labelOverlap: true,
        },
      },
      y: {
        field: 'value',
        type: 'quantitative',
        title: label,
        axis: chart.unit === 'fraction' ? { format: '.0%' } : { format: '~s' },
        ...(chart.unit === 'fraction' ? { scale: { domain: [0, 1] } } : {}),
      },
      color: { field: 'series', type: 'nominal', legend: { title: null, orient: 'top' } },
    },
    config: {
      font: 'DejaVu Sans',
      axis: { labelFontSize: 16, titleFontSize: 16 },
      legend: { labelFontSize: 16, symbolStrokeWidth: 4 },
    },
  };
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  await renderer();
  const png = new Resvg(svg, {
    font: {
      fontBuffers: [font as Buffer],
      defaultFontFamily: 'DejaVu Sans',
      loadSystemFonts: false,
    },
    fitTo: { mode: 'width', value: CHART_WIDTH },
  })
    .render()
    .asPng();
  return Buffer.from(png);
}

/**
 * The dashboard in a real headless Chromium: a tiny test host embeds the page as a real host does
 * (a sandboxed iframe, the HTML read from the server's ui:// resource) and answers the page's
 * bridge calls by calling the server, which the simulator backs. The screenshot is kept in
 * test-artifacts/ (gitignored) for a human to look at.
 */
import { accessSync, constants, mkdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { type Browser, chromium, type Frame, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type McpHarness, startHarness } from '../helpers/mcp.js';

// The browser globals the page functions below use (the project compiles without the DOM lib).
declare const document: {
  getElementById(id: string): { srcdoc: string } | null;
  documentElement: { scrollHeight: number };
};
declare const window: { bridgeLog: string[] };
declare const requestAnimationFrame: (callback: () => void) => number;

const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts');

/** The system Chromium (Debian's `chromium`), or CHROMIUM_PATH. */
function findChromium(): string | undefined {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  for (const dir of (process.env.PATH ?? '').split(delimiter))
    for (const name of ['chromium', 'chromium-browser']) {
      const file = join(dir, name);
      try {
        accessSync(file, constants.X_OK);
        return file;
      } catch {}
    }
  return undefined;
}

// CI installs Chromium (.ci/run): there a missing browser is a failure; a developer without it
// sees the test skipped, by name. The suite's reruns on other Nodes (scripts/node-versions.ts)
// would show the same page to the same browser again.
const executable = findChromium();
const run = Boolean(executable || process.env.CI) && !process.env.NODE_VERSIONS_RUN;

/** The host side of the ext-apps bridge, as small as the page needs: answers and forwards. */
const HOST_PAGE = `<!doctype html><html><body style="margin:0;background:#ddd">
<iframe id="app" sandbox="allow-scripts" style="border:0;width:100%;height:600px;background:#fff"></iframe>
<script>
window.bridgeLog = [];
const frame = document.getElementById('app');
const reply = (m) => frame.contentWindow.postMessage(m, '*');
window.addEventListener('message', async (ev) => {
  if (ev.source !== frame.contentWindow) return;
  const m = ev.data;
  window.bridgeLog.push(m.method ?? 'response');
  if (m.method === 'ui/initialize') {
    reply({ jsonrpc: '2.0', id: m.id, result: {
      protocolVersion: m.params.protocolVersion,
      hostInfo: { name: 'test-host', version: '1.0.0' },
      hostCapabilities: { serverTools: {} },
      hostContext: { theme: 'light' },
    } });
  } else if (m.method === 'ui/notifications/initialized') {
    // As a host does: the call that opened the view, then its input and result.
    const result = await window.mcpCall('proxmox_show_dashboard', {});
    reply({ jsonrpc: '2.0', method: 'ui/notifications/tool-input', params: { arguments: {} } });
    reply({ jsonrpc: '2.0', method: 'ui/notifications/tool-result', params: result });
  } else if (m.method === 'tools/call') {
    reply({ jsonrpc: '2.0', id: m.id, result: await window.mcpCall(m.params.name, m.params.arguments ?? {}) });
  } else if (m.method === 'ui/notifications/size-changed') {
    frame.style.height = m.params.height + 'px';
  } else if (m.id !== undefined && m.method) {
    reply({ jsonrpc: '2.0', id: m.id, error: { code: -32601, message: 'not in the test host' } });
  }
});
</script></body></html>`;

describe.skipIf(!run)('the dashboard in headless Chromium', () => {
  let h: McpHarness;
  let browser: Browser;
  let page: Page;
  let app: Frame;
  const requests: string[] = [];
  const logs: string[] = [];

  beforeAll(async () => {
    if (!executable)
      throw new Error(
        'No Chromium found (chromium, chromium-browser or CHROMIUM_PATH): .ci/run installs the chromium package',
      );
    h = await startHarness({ config: { toolsets: ['metrics'] } });
    browser = await chromium.launch({
      executablePath: executable,
      // New headless; no sandbox, as CI runs as root.
      args: ['--headless=new', '--no-sandbox'],
      timeout: 30_000,
    });
    page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
    page.on('request', (r) => {
      if (!/^(about|data):/.test(r.url())) requests.push(r.url());
    });
    page.on('console', (m) => logs.push(m.text()));
    await page.exposeFunction('mcpCall', (name: string, args: Record<string, unknown>) =>
      h.client.callTool({ name, arguments: args }),
    );
    await page.setContent(HOST_PAGE);
    // The page comes from the server, as a host would read it.
    const { contents } = await h.client.readResource({ uri: 'ui://proxmox/dashboard' });
    const html = (contents[0] as { text: string }).text;
    await page.evaluate((doc) => {
      const frame = document.getElementById('app');
      if (frame) frame.srcdoc = doc;
    }, html);
    const frame = await (await page.waitForSelector('#app')).contentFrame();
    if (!frame) throw new Error('the app frame did not load');
    app = frame;
    await app.waitForSelector('.node .node-name', { timeout: 15_000 });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it('shows the nodes and the guests by state from the server, and keeps a screenshot', async () => {
    const d = (await h.call('proxmox_show_dashboard')).structured as {
      guests: unknown[];
      counts: Record<string, number>;
      storage: unknown[];
      failedTasks: unknown[];
    };
    expect(await app.locator('.node .node-name').allTextContents()).toEqual([
      'pve1',
      'pve2',
      'pve3',
    ]);
    expect(await app.locator('[data-node="pve3"] .node-status').textContent()).toBe('offline');
    expect(await app.locator('#cluster').textContent()).toBe('Cluster demo');
    const count = (state: string) =>
      app.locator(`#counts [data-state="${state}"] .n`).textContent();
    expect(Number(await count('all'))).toBe(d.guests.length);
    for (const [state, n] of Object.entries(d.counts)) expect(Number(await count(state))).toBe(n);
    expect(await app.locator('#guests tr').count()).toBe(d.guests.length);
    expect(await app.locator('#storage .metric').count()).toBe(d.storage.length);
    expect(await app.locator('#tasks tr').count()).toBe(d.failedTasks.length);
    // The host sized the frame to the page (size-changed), so the screenshot shows all of it.
    await page.waitForFunction(() => window.bridgeLog.includes('ui/notifications/size-changed'));
    // A viewport as tall as the page: a full-page capture that grows the viewport can catch the
    // sandboxed frame (its own process) before it repaints the new area.
    const height = await page.evaluate(() => document.documentElement.scrollHeight);
    await page.setViewportSize({ width: 1100, height });
    await app.evaluate(
      () =>
        new Promise<void>((done) =>
          requestAnimationFrame(() => requestAnimationFrame(() => done())),
        ),
    );
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png') });
  });

  it('filters guests by state and by name or ID', async () => {
    const running = Number(await app.locator('#counts [data-state="running"] .n').textContent());
    await app.locator('#counts [data-state="running"]').click();
    expect(await app.locator('#guests tr').count()).toBe(running);
    expect(new Set(await app.locator('#guests tr td:last-child').allTextContents())).toEqual(
      new Set(['running']),
    );
    await app.locator('#counts [data-state="all"]').click();
    await app.locator('#filter').fill('101');
    expect(await app.locator('#guests tr').count()).toBe(1);
    await app.locator('#filter').fill('');
  });

  it('refreshes on demand through the bridge: a tools/call the host answers from the server', async () => {
    const calls = () =>
      page.evaluate(() => window.bridgeLog.filter((m) => m === 'tools/call').length);
    const running = async () =>
      Number(await app.locator('#counts [data-state="running"] .n').textContent());
    const before = { calls: await calls(), running: await running() };
    // Something changes on the cluster: the page shows it only after a refresh.
    const d = (await h.call('proxmox_show_dashboard')).structured as {
      guests: { vmid: number; type: 'qemu' | 'lxc'; node: string; state: string }[];
    };
    const stopped = d.guests.find(
      (g) => g.state === 'stopped' && g.type === 'qemu' && g.node !== 'pve3',
    );
    if (!stopped) throw new Error('the dataset has no stopped VM on an online node');
    await (await h.pve.guests('qemu').start(stopped.node, stopped.vmid)).wait();
    expect(await running()).toBe(before.running);
    await app.locator('#refresh').click();
    await page.waitForFunction(
      (n) => window.bridgeLog.filter((m) => m === 'tools/call').length > n,
      before.calls,
    );
    await app.waitForSelector('#refresh:not([disabled])');
    expect(await app.locator('#error').textContent()).toBe('');
    expect(await running()).toBe(before.running + 1);
  });

  it('loads nothing from the network and breaks none of its own policy', async () => {
    expect(requests).toEqual([]);
    expect(logs.filter((m) => /Content Security Policy|Refused to/i.test(m))).toEqual([]);
    // The policy is enforced: the page may not fetch anything.
    const probe = await app.evaluate(() =>
      fetch('http://127.0.0.1:9/').then(
        () => 'fetched',
        (e: Error) => e.message,
      ),
    );
    expect(probe).not.toBe('fetched');
    await expect
      .poll(() =>
        logs.some((m) =>
          /violates the following Content Security Policy directive: "connect-src 'none'"/.test(m),
        ),
      )
      .toBe(true);
  });
});

/** The cluster dashboard tool and its MCP App resource (src/tools/dashboard.ts, src/server/apps.ts). */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type McpHarness, startHarness } from '../helpers/mcp.js';

const URI = 'ui://proxmox/dashboard';
const MIME = 'text/html;profile=mcp-app';

let h: McpHarness;
beforeAll(async () => {
  h = await startHarness({ config: { toolsets: ['metrics'] } });
});
afterAll(() => h.close());

interface Dashboard {
  cluster: { name?: string; quorate: boolean };
  nodes: { name: string; online: boolean; cpu: number; mem?: number; maxmem?: number }[];
  storage: { name: string; node: string; used: number; total: number; available: boolean }[];
  guests: { vmid: number; state: string; node: string }[];
  counts: Record<string, number>;
  failedTasks: { status: string; starttime: number }[];
}

describe('proxmox_show_dashboard', () => {
  it('links to its ui:// resource in _meta, both the current and the legacy key', async () => {
    const { tools } = await h.client.listTools();
    const tool = tools.find((t) => t.name === 'proxmox_show_dashboard');
    expect(tool?._meta).toMatchObject({ ui: { resourceUri: URI }, 'ui/resourceUri': URI });
    expect(tool?.annotations).toMatchObject({ readOnlyHint: true });
  });

  it('answers a compact text summary and the data as structured content', async () => {
    const a = await h.call('proxmox_show_dashboard');
    expect(a.isError).toBeFalsy();
    const d = a.structured as unknown as Dashboard;
    expect(d.nodes.map((n) => n.name)).toEqual(['pve1', 'pve2', 'pve3']);
    const resources = await h.pve.cluster.resources();
    const guests = resources.filter((r) => r.type === 'qemu' || r.type === 'lxc');
    expect(d.guests.length).toBe(guests.length);
    expect(d.counts.running).toBe(
      guests.filter((g) => !g.template && g.status === 'running').length,
    );
    expect(Object.values(d.counts).reduce((a, b) => a + b, 0)).toBe(guests.length);
    expect(d.storage.length).toBeGreaterThan(0);
    for (const s of d.storage) expect(s.used).toBeLessThanOrEqual(s.total || s.used);
    expect(d.failedTasks.length).toBeGreaterThan(0);
    for (const t of d.failedTasks) expect(t.status).not.toMatch(/^(OK|WARNINGS|running)/);
    const lines = a.text.split('\n');
    expect(lines[0]).toMatch(/^Cluster \S+: quorate, \d\/3 nodes online$/);
    expect(a.text).toMatch(/^ {2}pve1: CPU \d/m);
    expect(a.text).toContain(`Guests: ${d.counts.running} running`);
    expect(a.text).toMatch(/^Recent failed tasks: \S/m);
    // Compact: the text is a summary, not the data again.
    expect(a.text.length).toBeLessThan(1_200);
  });

  it('serves one self-contained page as text/html;profile=mcp-app under a strict CSP', async () => {
    const { resources } = await h.client.listResources();
    expect(resources.find((r) => r.uri === URI)).toMatchObject({ mimeType: MIME });
    const { contents } = await h.client.readResource({ uri: URI });
    expect(contents).toHaveLength(1);
    const page = contents[0] as { mimeType: string; text: string; _meta?: Record<string, unknown> };
    expect(page.mimeType).toBe(MIME);
    expect(page._meta).toMatchObject({
      ui: { csp: { connectDomains: [], resourceDomains: [] } },
    });
    const html = page.text;
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)?.[1];
    expect(csp).toBeDefined();
    const directives = Object.fromEntries(
      (csp ?? '').split(';').map((d) => {
        const [name = '', ...values] = d.trim().split(/\s+/);
        return [name, values];
      }),
    );
    expect(directives['default-src']).toEqual(["'none'"]);
    expect(directives['connect-src']).toEqual(["'none'"]);
    expect(csp).not.toMatch(/unsafe-|https?:|\*/);
    // The inline script and style are allowed by their hashes, and are the only ones.
    const hash = (s: string) => `'sha256-${createHash('sha256').update(s).digest('base64')}'`;
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1] ?? '');
    const styles = [...html.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => m[1] ?? '');
    expect(scripts).toHaveLength(1);
    expect(styles).toHaveLength(1);
    expect(directives['script-src']).toEqual(scripts.map(hash));
    expect(directives['style-src']).toEqual(styles.map(hash));
    // Nothing loads from elsewhere, and nothing is written as markup.
    expect(html).not.toMatch(/<script\s+src|<link|<img|<iframe|https?:\/\/|\bstyle="/);
    expect(html).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
    expect(html).not.toMatch(/token|secret|password/i);
  });

  it('is offered with the metrics toolset only', async () => {
    const core = await startHarness();
    try {
      const { tools } = await core.client.listTools();
      expect(tools.some((t) => t.name === 'proxmox_show_dashboard')).toBe(false);
      const { resources } = await core.client.listResources();
      expect(resources.some((r) => r.uri === URI)).toBe(false);
    } finally {
      await core.close();
    }
  });
});

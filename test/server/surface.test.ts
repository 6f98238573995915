import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { type Raw, surfaceKey } from '../../src/config/raw.js';
import { createServer } from '../../src/server/create.js';
import { buildDeps, closeDeps } from '../../src/server/deps.js';
import { recordSurface } from '../../src/server/surface.js';
import { readSurface } from '../../src/transports/stdio.js';
import { VERSION } from '../../src/version.js';

const TOKEN = 'root@pam!mcp=11111111-2222-3333-4444-555555555555';
const CLUSTER = { url: 'https://pve.example.com:8006', apiToken: TOKEN };
const dir = mkdtempSync(join(tmpdir(), 'pmcp-surface-'));
const caFile = join(dir, 'ca.pem');
writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n');

async function answersFor(raw: Raw) {
  const config = validateConfig({ raw, fromFile: false });
  const deps = buildDeps(config, { version: VERSION });
  try {
    return await recordSurface(() => createServer(config, deps));
  } finally {
    await closeDeps(deps);
  }
}

/** Connection and serving settings, each with a value other than the base's. */
const NEUTRAL: [string, Raw][] = [
  ['another URL', { clusters: [{ ...CLUSTER, url: 'https://10.0.0.1:8006' }] }],
  [
    'a token given in two parts',
    {
      clusters: [
        {
          url: CLUSTER.url,
          tokenId: 'ops@pve!ci',
          tokenSecret: '99999999-8888-7777-6666-555555555555',
        },
      ],
    },
  ],
  [
    'a user and password',
    { clusters: [{ url: CLUSTER.url, user: 'ops@pve', password: 'hunter2-secret' }] },
  ],
  ['a CA file', { clusters: [{ ...CLUSTER, caFile }] }],
  ['a fingerprint', { clusters: [{ ...CLUSTER, fingerprint: Array(32).fill('AB').join(':') }] }],
  ['insecure TLS', { clusters: [{ ...CLUSTER, insecure: true }] }],
  ['limits', { clusters: [{ ...CLUSTER, maxInFlight: 2, timeoutMs: 5_000 }] }],
  [
    'an audit log and a log level',
    { clusters: [CLUSTER], auditLog: join(dir, 'audit.jsonl'), logLevel: 'error' },
  ],
  [
    'HTTP settings',
    { clusters: [CLUSTER], http: { port: 3111, token: 'a-bearer-token-of-length' } },
  ],
];

describe('the surface key', () => {
  const base = surfaceKey({ clusters: [CLUSTER] });

  it('leaves out connection and serving settings, secrets among them', () => {
    for (const [, raw] of NEUTRAL) expect(surfaceKey(raw)).toBe(base);
    const all = NEUTRAL.map(([, raw]) => surfaceKey(raw)).join('\n');
    for (const secret of ['11111111-2222', '99999999-8888', 'hunter2', 'a-bearer-token'])
      expect(all).not.toContain(secret);
  });

  it('keeps every setting that can change what a client discovers', () => {
    const variants: Raw[] = [
      { clusters: [CLUSTER], readOnly: true },
      { clusters: [CLUSTER], toolsets: ['all'] },
      { clusters: [CLUSTER], tools: ['proxmox_get_guest_config'] },
      { clusters: [CLUSTER], excludeTools: ['proxmox_delete_vm'] },
      { clusters: [CLUSTER], confirm: 'none' },
      { clusters: [{ ...CLUSTER, readOnly: true }] },
      { clusters: [{ ...CLUSTER, name: 'lab' }] },
      { clusters: [{ ...CLUSTER, scope: { nodes: ['pve1'] } }] },
      { clusters: [CLUSTER, { ...CLUSTER, name: 'other' }] },
    ];
    const keys = new Set([base, ...variants.map(surfaceKey)]);
    expect(keys.size).toBe(variants.length + 1);
  });

  it('does not depend on the order settings were given in', () => {
    expect(surfaceKey({ readOnly: true, toolsets: ['core'], clusters: [CLUSTER] })).toBe(
      surfaceKey({ clusters: [CLUSTER], toolsets: ['core'], readOnly: true }),
    );
  });
});

describe('the recorded surface', () => {
  it('is the same whatever the settings the key leaves out', async () => {
    const base = await answersFor({ clusters: [CLUSTER] });
    expect(Object.keys(base)).toContain('2025-11-25');
    expect(base['2025-11-25']).toMatchObject({
      initialize: { protocolVersion: '2025-11-25', serverInfo: { name: 'proxmox-mcp' } },
      ping: {},
    });
    for (const [what, raw] of NEUTRAL) {
      expect(await answersFor(raw), what).toEqual(base);
    }
  });

  it('differs where the key differs', async () => {
    const base = await answersFor({ clusters: [CLUSTER] });
    const readOnly = await answersFor({ clusters: [CLUSTER], readOnly: true });
    expect(readOnly['2025-11-25']?.['tools/list']).not.toEqual(base['2025-11-25']?.['tools/list']);
  });

  it('is what the build wrote for the default configuration', async () => {
    const raw = { clusters: [CLUSTER] };
    const file = new URL('../../dist/surface.json', import.meta.url);
    expect(readSurface(file, surfaceKey(raw), VERSION)).toEqual(await answersFor(raw));
    expect(readSurface(file, surfaceKey(raw), '0.0.0-other')).toBeUndefined();
    expect(
      readSurface(new URL('file:///nonexistent/surface.json'), surfaceKey(raw), VERSION),
    ).toBeUndefined();
  });
});

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/raw.js';
import { buildDeps } from '../../src/server/deps.js';

const TOKEN = 'root@pam!mcp=11111111-2222-3333-4444-555555555555';
const missing = join(mkdtempSync(join(tmpdir(), 'pmcp-deps-')), 'no/such/dir');

describe('buildDeps', () => {
  it('names the setting when a CA file cannot be read', () => {
    const config = loadConfig({
      env: {
        PROXMOX_URL: 'https://pve:8006',
        PROXMOX_API_TOKEN: TOKEN,
        PROXMOX_CA_FILE: `${missing}/ca.pem`,
      },
    });
    expect(() => buildDeps(config, { version: '1' })).toThrow(ConfigError);
    expect(() => buildDeps(config, { version: '1' })).toThrow(
      `caFile of cluster 'default' (PROXMOX_CA_FILE): cannot open '${missing}/ca.pem' (ENOENT)`,
    );
  });

  it('names the setting when the audit log cannot be opened', () => {
    const config = loadConfig({
      env: {
        PROXMOX_URL: 'https://pve:8006',
        PROXMOX_API_TOKEN: TOKEN,
        PROXMOX_AUDIT_LOG: `${missing}/audit.jsonl`,
      },
    });
    expect(() => buildDeps(config, { version: '1' })).toThrow(
      `auditLog (PROXMOX_AUDIT_LOG or --audit-log): cannot open '${missing}/audit.jsonl' (ENOENT)`,
    );
  });
});

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
  it.each([
    [
      'a CA file',
      { PROXMOX_CA_FILE: `${missing}/ca.pem` },
      `caFile of cluster 'default' (PROXMOX_CA_FILE): cannot open '${missing}/ca.pem' (ENOENT)`,
    ],
    [
      'the audit log',
      { PROXMOX_AUDIT_LOG: `${missing}/audit.jsonl` },
      `auditLog (PROXMOX_AUDIT_LOG or --audit-log): cannot open '${missing}/audit.jsonl' (ENOENT)`,
    ],
  ])('names the setting when %s cannot be opened', (_what, env, message) => {
    const config = loadConfig({
      env: { PROXMOX_URL: 'https://pve:8006', PROXMOX_API_TOKEN: TOKEN, ...env },
    });
    const build = () => buildDeps(config, { version: '1' });
    expect(build).toThrow(ConfigError);
    expect(build).toThrow(message);
  });
});

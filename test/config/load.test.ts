import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'pmcp-config-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const TOKEN = 'root@pam!mcp=11111111-2222-3333-4444-555555555555';

describe('loadConfig', () => {
  it('takes the common case from the environment alone, with defaults', () => {
    const config = loadConfig({
      env: { PROXMOX_URL: 'https://pve.example.com:8006/api2/json', PROXMOX_API_TOKEN: TOKEN },
    });
    expect(config.clusters).toEqual([
      expect.objectContaining({
        name: 'default',
        url: 'https://pve.example.com:8006',
        apiToken: TOKEN,
        insecure: false,
        maxInFlight: 8,
      }),
    ]);
    expect(config).toMatchObject({
      toolsets: ['core'],
      readOnly: false,
      confirm: 'elicit',
      http: { enabled: false, host: '127.0.0.1' },
    });
  });

  it('builds the URL from PROXMOX_HOST and PROXMOX_PORT, and reads secrets from *_FILE', () => {
    const secret = file('secret', '99999999-8888-7777-6666-555555555555\n');
    const config = loadConfig({
      env: {
        PROXMOX_HOST: 'pve.lan',
        PROXMOX_TOKEN_ID: 'ops@pve!ci',
        PROXMOX_TOKEN_SECRET_FILE: secret,
        PROXMOX_TLS_FINGERPRINT: `${'ab:'.repeat(31)}ab`,
      },
    });
    expect(config.clusters[0]).toMatchObject({
      url: 'https://pve.lan:8006',
      tokenId: 'ops@pve!ci',
      tokenSecret: '99999999-8888-7777-6666-555555555555',
      fingerprint: `${'AB:'.repeat(31)}AB`,
    });
  });

  it('layers file < environment < flags', () => {
    const path = file(
      'one.yaml',
      `url: https://file.example:8006\napiToken: "${TOKEN}"\nreadOnly: false\ntoolsets: [core, backup]\nconfirm: strict\n`,
    );
    const config = loadConfig({
      flags: { config: path, readOnly: true, toolsets: 'core,metrics' },
      env: {
        PROXMOX_URL: 'https://env.example:8006',
        PROXMOX_READ_ONLY: 'false',
        PROXMOX_CONFIRM: 'none',
      },
    });
    expect(config.clusters[0]?.url).toBe('https://env.example:8006');
    expect(config.readOnly).toBe(true);
    expect(config.toolsets).toEqual(['core', 'metrics']);
    expect(config.confirm).toBe('none');
  });

  it('reads several clusters from a file, each with its own policy, and PROXMOX_CLUSTER picks one for env settings', () => {
    const path = file(
      'two.json',
      JSON.stringify({
        clusters: [
          {
            name: 'prod',
            url: 'https://prod:8006',
            apiToken: TOKEN,
            readOnly: true,
            scope: { protected: { tags: ['prod'] } },
          },
          { name: 'lab', url: 'https://lab:8006', user: 'root@pam', password: 'x' },
        ],
      }),
    );
    const config = loadConfig({
      flags: { config: path },
      env: { PROXMOX_CLUSTER: 'lab', PROXMOX_INSECURE: 'true' },
    });
    expect(config.clusters.map((c) => [c.name, c.readOnly, c.insecure])).toEqual([
      ['prod', true, false],
      ['lab', undefined, true],
    ]);
    expect(config.clusters[0]?.scope.protected.tags).toEqual(['prod']);
    expect(() =>
      loadConfig({ flags: { config: path }, env: { PROXMOX_INSECURE: 'true' } }),
    ).toThrow(/set PROXMOX_CLUSTER/);
  });

  it.each([
    [{}, /no cluster/],
    [{ PROXMOX_URL: 'https://pve:8006' }, /PROXMOX_API_TOKEN.*no credentials/],
    [{ PROXMOX_URL: 'pve.example.com', PROXMOX_API_TOKEN: TOKEN }, /PROXMOX_URL.*http\(s\) URL/],
    [
      { PROXMOX_URL: 'https://pve:8006', PROXMOX_API_TOKEN: 'root@pam=secret' },
      /user@realm!tokenid=secret/,
    ],
    [
      { PROXMOX_URL: 'https://pve:8006', PROXMOX_USER: 'root', PROXMOX_PASSWORD: 'x' },
      /PROXMOX_USER.*realm/,
    ],
    [
      {
        PROXMOX_URL: 'https://pve:8006',
        PROXMOX_API_TOKEN: TOKEN,
        PROXMOX_TLS_FINGERPRINT: 'AB:CD',
      },
      /PROXMOX_TLS_FINGERPRINT.*32 hex pairs/,
    ],
    [
      { PROXMOX_URL: 'https://pve:8006', PROXMOX_API_TOKEN: TOKEN, PROXMOX_INSECURE: 'maybe' },
      /PROXMOX_INSECURE='maybe' is not a boolean/,
    ],
    [
      { PROXMOX_URL: 'https://pve:8006', PROXMOX_API_TOKEN: TOKEN, PROXMOX_CONFIRM: 'sometimes' },
      /confirm \(PROXMOX_CONFIRM/,
    ],
    [
      {
        PROXMOX_URL: 'https://pve:8006',
        PROXMOX_PASSWORD_FILE: '/nonexistent/pw',
        PROXMOX_USER: 'a@pve',
      },
      /PROXMOX_PASSWORD_FILE: cannot read/,
    ],
  ])('stops with a message naming the setting: %o', (env, message) => {
    expect(() => loadConfig({ env })).toThrow(ConfigError);
    expect(() => loadConfig({ env })).toThrow(message);
  });

  it('refuses a non-loopback HTTP bind without a bearer token', () => {
    const env = { PROXMOX_URL: 'https://pve:8006', PROXMOX_API_TOKEN: TOKEN };
    expect(() => loadConfig({ env, flags: { http: true, host: '0.0.0.0' } })).toThrow(
      /needs a bearer token/,
    );
    const withToken = { ...env, PROXMOX_MCP_HTTP_TOKEN: 'a-long-enough-token-value' };
    // Every address answers to no name of its own: the names clients use must be given.
    expect(() => loadConfig({ env: withToken, flags: { http: true, host: '0.0.0.0' } })).toThrow(
      /listens on every address.*allowedHosts/,
    );
    const ok = loadConfig({
      env: withToken,
      flags: { http: true, host: '0.0.0.0', allowedHosts: 'mcp.example.com' },
    });
    expect(ok.http).toMatchObject({
      enabled: true,
      host: '0.0.0.0',
      allowedHosts: ['mcp.example.com'],
      token: 'a-long-enough-token-value',
    });
  });

  it('never puts a secret into an error message', () => {
    const secret = 'canary-7d4f0c1e-secret';
    try {
      loadConfig({ env: { PROXMOX_URL: 'not a url', PROXMOX_API_TOKEN: `root@pam!x=${secret}` } });
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).not.toContain(secret);
    }
  });
});

describe('every documented variable', () => {
  const base = { PROXMOX_URL: 'https://pve:8006', PROXMOX_API_TOKEN: TOKEN };
  it.each([
    [
      { PROXMOX_CA_FILE: '/etc/pve/pve-root-ca.pem' },
      (c: ReturnType<typeof loadConfig>) => c.clusters[0]?.caFile,
      '/etc/pve/pve-root-ca.pem',
    ],
    [
      { PROXMOX_INSECURE: 'yes' },
      (c: ReturnType<typeof loadConfig>) => c.clusters[0]?.insecure,
      true,
    ],
    [{ PROXMOX_READ_ONLY: '1' }, (c: ReturnType<typeof loadConfig>) => c.readOnly, true],
    [
      { PROXMOX_TOOLSETS: 'core, backup' },
      (c: ReturnType<typeof loadConfig>) => c.toolsets,
      ['core', 'backup'],
    ],
    [
      { PROXMOX_TOOLS: 'proxmox_list_backups' },
      (c: ReturnType<typeof loadConfig>) => c.tools,
      ['proxmox_list_backups'],
    ],
    [
      { PROXMOX_EXCLUDE_TOOLS: 'proxmox_delete_vm,proxmox_reset_vm' },
      (c: ReturnType<typeof loadConfig>) => c.excludeTools,
      ['proxmox_delete_vm', 'proxmox_reset_vm'],
    ],
    [{ PROXMOX_CONFIRM: 'strict' }, (c: ReturnType<typeof loadConfig>) => c.confirm, 'strict'],
    [
      { PROXMOX_AUDIT_LOG: '/var/log/pmcp.jsonl' },
      (c: ReturnType<typeof loadConfig>) => c.auditLog,
      '/var/log/pmcp.jsonl',
    ],
    [{ PROXMOX_LOG_LEVEL: 'warn' }, (c: ReturnType<typeof loadConfig>) => c.logLevel, 'warn'],
    [
      { PROXMOX_MCP_HTTP_TOKEN: 'sixteen-chars-or-more' },
      (c: ReturnType<typeof loadConfig>) => c.http.token,
      'sixteen-chars-or-more',
    ],
    [
      { PROXMOX_HOST: 'pve2.lan', PROXMOX_PORT: '443', PROXMOX_URL: '' },
      (c: ReturnType<typeof loadConfig>) => c.clusters[0]?.url,
      'https://pve2.lan:443',
    ],
  ] as const)('%o', (extra, pick, expected) => {
    expect(pick(loadConfig({ env: { ...base, ...extra } }))).toEqual(expected);
  });

  it('reads user and password, and the API token, from *_FILE variants', () => {
    const pw = file('pw', 'from-a-file\n');
    expect(
      loadConfig({
        env: {
          PROXMOX_URL: 'https://pve:8006',
          PROXMOX_USER: 'ops@pve',
          PROXMOX_PASSWORD_FILE: pw,
        },
      }).clusters[0]?.password,
    ).toBe('from-a-file');
    const tok = file('tok', `${TOKEN}\n`);
    expect(
      loadConfig({ env: { PROXMOX_URL: 'https://pve:8006', PROXMOX_API_TOKEN_FILE: tok } })
        .clusters[0]?.apiToken,
    ).toBe(TOKEN);
    const http = file('http', 'a-token-from-a-file-123\n');
    expect(loadConfig({ env: { ...base, PROXMOX_MCP_HTTP_TOKEN_FILE: http } }).http.token).toBe(
      'a-token-from-a-file-123',
    );
  });

  it('takes the config file from PROXMOX_CONFIG', () => {
    const path = file('env.yaml', `url: https://from-file:8006\napiToken: "${TOKEN}"\n`);
    expect(loadConfig({ env: { PROXMOX_CONFIG: path } }).clusters[0]?.url).toBe(
      'https://from-file:8006',
    );
  });

  it('stops on an unknown key at any level, naming it and the nearest valid name', () => {
    const env = {};
    const top = file('typo.yaml', `url: https://pve:8006\napiToken: ${TOKEN}\nread_only: true\n`);
    expect(() => loadConfig({ env, flags: { config: top } })).toThrow(
      /unknown setting 'read_only' in clusters\[0\]: did you mean 'readOnly'\?/,
    );
    const nested = file(
      'nested.yaml',
      `clusters:\n  - url: https://pve:8006\n    apiToken: ${TOKEN}\n    scope:\n      protected:\n        tag: [prod]\n`,
    );
    expect(() => loadConfig({ env, flags: { config: nested } })).toThrow(
      /unknown setting 'tag' in clusters\[0\]\.scope\.protected: did you mean 'tags'\?/,
    );
    const global = file(
      'global.yaml',
      `clusters:\n  - url: https://pve:8006\n    apiToken: ${TOKEN}\nreadonly: true\nhttp:\n  hots: 0.0.0.0\n`,
    );
    let message = '';
    try {
      loadConfig({ env, flags: { config: global } });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/unknown setting 'readonly': did you mean 'readOnly'\?/);
    expect(message).toMatch(/unknown setting 'hots' in http: did you mean 'host'\?/);
  });

  it('refuses a plain http URL unless insecure is set explicitly', () => {
    const env = { PROXMOX_URL: 'http://pve:8006', PROXMOX_API_TOKEN: TOKEN };
    expect(() => loadConfig({ env })).toThrow(/plain http sends the credentials in clear text/);
    expect(loadConfig({ env: { ...env, PROXMOX_INSECURE: '1' } }).clusters[0]?.url).toBe(
      'http://pve:8006',
    );
  });
});

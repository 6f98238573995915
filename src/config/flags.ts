/** The command-line flags that feed the configuration, shared by the server and `doctor`. */
import type { parseArgs } from 'node:util';
import type { ConfigFlags } from './raw.js';

export const OPTIONS = {
  config: { type: 'string' },
  url: { type: 'string' },
  insecure: { type: 'boolean' },
  toolsets: { type: 'string' },
  tools: { type: 'string' },
  'exclude-tools': { type: 'string' },
  'read-only': { type: 'boolean' },
  confirm: { type: 'string' },
  'audit-log': { type: 'string' },
  'log-level': { type: 'string' },
  http: { type: 'boolean' },
  host: { type: 'string' },
  port: { type: 'string' },
  'http-token': { type: 'string' },
  'http-token-file': { type: 'string' },
  demo: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

export function flagsOf(
  values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'],
): ConfigFlags {
  return {
    config: values.config,
    url: values.url,
    insecure: values.insecure,
    toolsets: values.toolsets,
    tools: values.tools,
    excludeTools: values['exclude-tools'],
    readOnly: values['read-only'],
    confirm: values.confirm,
    auditLog: values['audit-log'],
    logLevel: values['log-level'],
    http: values.http,
    host: values.host,
    port: values.port,
    httpToken: values['http-token'],
    httpTokenFile: values['http-token-file'],
    demo: values.demo,
  };
}

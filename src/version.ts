import { readFileSync } from 'node:fs';

/** Set by the build (scripts/build.ts); from source, package.json is read instead. */
declare const PROXMOX_MCP_VERSION: string | undefined;

/** The package version. */
export const VERSION: string =
  typeof PROXMOX_MCP_VERSION === 'string'
    ? PROXMOX_MCP_VERSION
    : (
        JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
          version: string;
        }
      ).version;

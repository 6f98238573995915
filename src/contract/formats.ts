/**
 * PVE's named parameter formats (`format: 'pve-node'` in the schema). Each check returns an error
 * text in PVE's words, or undefined when the value is fine. Formats not listed are not checked.
 */
import { parseSize } from './propstring.js';

const re = (source: string, flags = '') => new RegExp(`^(?:${source})$`, flags);

export const NODE_NAME = re('[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?');
export const STORAGE_ID = re('[a-z][a-z0-9\\-_.]*[a-z0-9]', 'i');
const CONFIG_ID = re('[a-z][a-z_\\-0-9]*', 'i');
const POOL_ID = re('[A-Za-z0-9_\\-]+(?:/[A-Za-z0-9_\\-]+){0,2}');
const VOLUME_ID = re('([a-z][a-z0-9\\-_.]*[a-z0-9]):(.+)', 'i');
const TAG = re('[a-z0-9_][a-z0-9_\\-+.]*', 'i');
const USER_ID = re('[^\\s:/]+@[A-Za-z][A-Za-z0-9.\\-_]+');
const TOKEN_ID = re('[A-Za-z][A-Za-z0-9.\\-_]+');
const MAC = re('[a-f0-9][02468ace](?::[a-f0-9]{2}){5}', 'i');
const BRIDGE = re('[-_.\\w\\d]+');
const IPV4 = re(
  '(?:(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)',
);
const IPV6 = re('[0-9a-f:]*:[0-9a-f:.]*', 'i');
const DNS_NAME = re('(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\\.)*[a-z0-9](?:[a-z0-9-]*[a-z0-9])?', 'i');

/** A value or list of values as PVE lists them (`a,b`, `a;b`, `a b`, repeated keys). */
export const listOf = (value: unknown): string[] =>
  (Array.isArray(value) ? value : [value])
    .filter((v) => v !== undefined && v !== null && v !== '')
    .flatMap((v) => String(v).split(/[,;\s]+/))
    .filter(Boolean);

function cidr(value: string, family: 4 | 6 | 'any'): boolean {
  const [ip, mask, ...rest] = value.split('/');
  if (rest.length || ip === undefined || mask === undefined || !/^\d+$/.test(mask)) return false;
  const v4 = IPV4.test(ip);
  const v6 = !v4 && IPV6.test(ip);
  if (family === 4 && !v4) return false;
  if (family === 6 && !v6) return false;
  return (v4 && Number(mask) <= 32) || (v6 && Number(mask) <= 128);
}

const CHECKS: Record<string, (value: string) => string | undefined> = {
  'pve-node': (v) => (NODE_NAME.test(v) ? undefined : 'value does not look like a valid node name'),
  'pve-vmid': (v) => (/^\d+$/.test(v) ? undefined : 'value does not look like a valid VM ID'),
  'pve-vmid-list': (v) =>
    listOf(v).every((id) => /^\d+$/.test(id))
      ? undefined
      : 'value does not look like a valid VM ID',
  'pve-storage-id': (v) =>
    STORAGE_ID.test(v) ? undefined : `storage ID '${v}' contains illegal characters`,
  'pve-storage-id-list': (v) => {
    const bad = listOf(v).find((id) => !STORAGE_ID.test(id));
    return bad === undefined ? undefined : `storage ID '${bad}' contains illegal characters`;
  },
  'pve-configid': (v) => (CONFIG_ID.test(v) ? undefined : `invalid configuration ID '${v}'`),
  'pve-configid-list': (v) => {
    const bad = listOf(v).find((id) => !CONFIG_ID.test(id));
    return bad === undefined ? undefined : `invalid configuration ID '${bad}'`;
  },
  'pve-poolid': (v) => (POOL_ID.test(v) ? undefined : `invalid pool ID '${v}'`),
  'pve-volume-id': (v) => (VOLUME_ID.test(v) ? undefined : `unable to parse volume ID '${v}'`),
  'pve-tag-list': (v) => {
    const bad = listOf(v).find((t) => !TAG.test(t));
    return bad === undefined ? undefined : `invalid tag '${bad}'`;
  },
  'pve-userid': (v) =>
    USER_ID.test(v) ? undefined : `value '${v}' does not look like a valid user name`,
  'pve-tokenid': (v) => (TOKEN_ID.test(v) ? undefined : `invalid token ID '${v}'`),
  'mac-addr': (v) =>
    MAC.test(v) ? undefined : `value '${v}' does not look like a valid unicast MAC address`,
  'pve-bridge-id': (v) => (BRIDGE.test(v) ? undefined : `invalid bridge ID '${v}'`),
  'disk-size': (v) => (parseSize(v) === undefined ? 'unable to parse size' : undefined),
  ipv4: (v) => (IPV4.test(v) ? undefined : `value '${v}' is not a valid IPv4 address`),
  ipv6: (v) => (IPV6.test(v) ? undefined : `value '${v}' is not a valid IPv6 address`),
  CIDR: (v) =>
    cidr(v, 'any') ? undefined : `value '${v}' does not look like a valid CIDR network`,
  'pve-ipv4-config': (v) =>
    v === 'dhcp' || v === 'manual' || cidr(v, 4)
      ? undefined
      : 'ipv4 network configuration format error',
  'pve-ipv6-config': (v) =>
    v === 'dhcp' || v === 'auto' || v === 'manual' || cidr(v, 6)
      ? undefined
      : 'ipv6 network configuration format error',
  'dns-name': (v) => (DNS_NAME.test(v) ? undefined : `value '${v}' does not look like a DNS name`),
};

/** Checks a value against a named format; unknown formats pass. */
export function checkFormat(format: string, value: string): string | undefined {
  return CHECKS[format]?.(value);
}

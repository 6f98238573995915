/** What a failure tells the user (src/tools/errors.ts), kind by kind. */
import { describe, expect, it } from 'vitest';
import { PveApiError, type PveErrorKind } from '../../src/pve/errors.js';
import { describeError } from '../../src/tools/errors.js';

const error = (init: Partial<ConstructorParameters<typeof PveApiError>[0]>) =>
  new PveApiError({ status: 500, method: 'GET', path: '/', message: '', ...init });

describe('describeError', () => {
  it.each([
    [
      'a missing guest, with where to list guests',
      {
        status: 500,
        path: '/nodes/pve1/qemu/142/status/current',
        message: "Configuration file 'nodes/pve1/qemu-server/142.conf' does not exist",
      },
      /^VM 142 was not found \(.*\)\. It may have been deleted or moved; list guests with proxmox_list_vms or proxmox_list_containers\.$/,
    ],
    [
      'a missing pool named by the request, not the guest of the path',
      {
        status: 403,
        method: 'POST',
        path: '/nodes/pve2/qemu/9000/clone',
        message: "Permission check failed (pool 'web' does not exist)",
      },
      /^The pool 'web' does not exist \(Permission check failed \(pool 'web' does not exist\)\)\. List pools with proxmox_list_pools\.$/,
    ],
    [
      'a missing bridge',
      {
        status: 500,
        method: 'PUT',
        path: '/nodes/pve2/qemu/104/config',
        message: "bridge 'vmbr9' does not exist",
      },
      /^The bridge 'vmbr9' does not exist .*proxmox_list_node_networks\.$/,
    ],
    [
      'a missing backup as a backup',
      {
        status: 500,
        method: 'POST',
        path: '/nodes/pve1/qemu',
        message:
          "volume 'backup-nfs:backup/vzdump-qemu-9-2026_11_20-01_00_03.vma.zst' does not exist",
      },
      /^The backup 'backup-nfs:backup\/vzdump-qemu-9-.*' does not exist .*\. List backups with proxmox_list_backups\.$/,
    ],
    [
      'a missing container template as a template',
      {
        status: 500,
        method: 'POST',
        path: '/nodes/pve1/lxc',
        message: "volume 'local:vztmpl/nope.tar.zst' does not exist",
      },
      /^The container template 'local:vztmpl\/nope\.tar\.zst' does not exist .*proxmox_list_storage_content lists a storage's templates\.$/,
    ],
    [
      'an ID taken, with where to see the ones in use',
      {
        status: 500,
        method: 'POST',
        path: '/nodes/pve1/qemu',
        message: 'unable to create VM 100: config file already exists',
      },
      /Choose another ID or name; proxmox_list_vms shows the ones in use\.$/,
    ],
    [
      'a name taken that is not a guest',
      {
        status: 400,
        method: 'POST',
        path: '/cluster/firewall/aliases',
        message: 'Parameter verification failed.',
        errors: { name: "alias 'office' already exists" },
      },
      /^Already exists: .*alias 'office' already exists.*\. Choose another name\.$/,
    ],
    [
      'a request the server refused before sending, without blaming Proxmox',
      {
        status: 400,
        path: '/cluster/resources',
        message: 'Parameter verification failed.',
        notSent: true,
        errors: { typ: 'property is not defined in schema' },
      },
      /^Not sent: typ: property is not defined in schema\. Correct the parameters named and try again; proxmox_api_search shows what each operation takes\.$/,
    ],
    [
      'a request Proxmox refused',
      {
        status: 400,
        path: '/cluster/resources',
        message: 'Parameter verification failed.',
        errors: { type: "value 'x' does not have a value in the enumeration" },
      },
      /^Proxmox rejected the request: type: /,
    ],
    [
      'an unreachable node, named',
      { status: 595, path: '/nodes/pve3/status', message: 'Connection refused' },
      /^Node pve3 is offline or unreachable/,
    ],
  ] as const)('tells %s', (_what, init, text) => {
    expect(describeError(error(init), 'default')?.text).toMatch(text);
  });
});

// Every kind of failure, with the next step it names: the Record makes a new kind a type error
// here until it has one.
const NEXT_STEPS: Record<
  PveErrorKind,
  [Partial<ConstructorParameters<typeof PveApiError>[0]>, RegExp]
> = {
  not_found: [
    { path: '/nodes/pve1/lxc/250/config', message: 'CT 250 does not exist' },
    /list guests with proxmox_list_vms or proxmox_list_containers\.$/,
  ],
  already_exists: [
    { path: '/pools', message: "pool 'web' already exists", kind: 'already_exists' },
    /Choose another name\.$/,
  ],
  bad_request: [
    {
      status: 400,
      path: '/nodes/pve1/qemu/100/config',
      message: 'Parameter verification failed.',
      errors: { cores: 'value must be at least 1' },
    },
    /^Proxmox rejected the request: cores: value must be at least 1\. Correct the parameters named and try again\.$/,
  ],
  auth: [
    { status: 401, path: '/version', message: 'authentication failure' },
    /Check the API token or user and password \(proxmox-mcp doctor checks them\)\.$/,
  ],
  permission: [
    { status: 403, path: '/nodes/pve1/qemu/100/status/start', message: 'Permission check failed' },
    /^Permission denied: Permission check failed\. proxmox_get_permissions shows what the credentials hold\.$/,
  ],
  locked: [
    { path: '/nodes/pve1/qemu/100/status/start', message: 'VM is locked (backup)' },
    /^VM 100 is locked \(backup\).*proxmox_list_tasks shows running tasks\) and try again\.$/,
  ],
  not_running: [
    {
      path: '/nodes/pve1/lxc/201/status/suspend',
      message: 'CT 201 not running',
      kind: 'not_running',
    },
    /Start it first \(proxmox_start_container\)\.$/,
  ],
  running: [
    {
      path: '/nodes/pve1/qemu/100',
      message: 'VM 100 is running - destroy failed',
      kind: 'running',
    },
    /Shut it down or stop it first \(proxmox_shutdown_vm, proxmox_stop_vm\)\.$/,
  ],
  conflict: [
    {
      path: '/nodes/pve1/qemu/100/config',
      message: 'detected modified configuration - file changed by other user? Try again.',
      kind: 'conflict',
    },
    /Read it again \(proxmox_get_vm_info gives the new digest\) and repeat the change if it still applies\.$/,
  ],
  node_offline: [
    { status: 595, path: '/nodes/pve3/qemu', message: 'No route to host' },
    /^Node pve3 is offline or unreachable .*Check it in proxmox_list_nodes/,
  ],
  no_node: [
    {
      path: '/nodes/pve9/status',
      message:
        "hostname lookup 'pve9' failed - failed to get address info for: pve9: Name or service not known",
      kind: 'no_node',
    },
    /^There is no node named 'pve9' in cluster 'default'\. List the nodes with proxmox_list_nodes\.$/,
  ],
  transient: [
    { status: 503, path: '/cluster/resources', message: 'Service Unavailable', kind: 'transient' },
    /Try again; if it persists, check the node and the network\.$/,
  ],
  timeout: [
    { path: '/cluster/resources', message: 'request timed out after 30000 ms', kind: 'timeout' },
    /Try again; if it persists, check the node and the network\.$/,
  ],
  tls: [
    { status: 0, path: '/version', message: 'certificate fingerprint mismatch', kind: 'tls' },
    /pin its fingerprint \(PROXMOX_TLS_FINGERPRINT\) or trust its CA \(PROXMOX_CA_FILE\); proxmox-mcp doctor prints the fingerprint it sees\.$/,
  ],
  failed: [
    { path: '/nodes/pve1/qemu/100/resize', message: "can't shrink disk", kind: 'failed' },
    /^Proxmox refused: can't shrink disk\. proxmox_get_vm_status and proxmox_get_vm_info show VM 100's state and configuration\.$/,
  ],
};

describe('every kind of failure names a next step', () => {
  it.each(Object.entries(NEXT_STEPS))('%s', (kind, [init, text]) => {
    const err = error(init);
    expect(err.kind).toBe(kind);
    expect(describeError(err, 'default')?.text).toMatch(text);
  });
});

/** What a failure tells the user (src/tools/errors.ts), kind by kind. */
import { describe, expect, it } from 'vitest';
import { PveApiError } from '../../src/pve/errors.js';
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
      /^Not sent: typ: property is not defined in schema\.$/,
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

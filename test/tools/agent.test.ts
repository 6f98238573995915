/** The guest agent (src/tools/agent.ts). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type McpHarness, startHarness } from '../helpers/mcp.js';

let h: McpHarness;
beforeAll(async () => {
  h = await startHarness({ config: { toolsets: ['all'] } });
});
afterAll(() => h.close());

describe('agent', () => {
  it('reads the guest OS and addresses, and explains a missing agent', async () => {
    expect((await h.call('proxmox_get_guest_os_info', { vmid: 101 })).text).toMatch(
      /runs Debian GNU\/Linux 12/,
    );
    const net = await h.call('proxmox_get_guest_network', { vmid: 101 });
    expect(net.text).toMatch(/ens18 .* 10\.0\.1\.103\/24/);
    expect((await h.call('proxmox_get_guest_network', { vmid: 202 })).isError).toBeFalsy();
    // PVE answers null for a stopped container's interfaces, not an error.
    const stopped = await h.call('proxmox_get_guest_network', { vmid: 201 });
    expect(stopped.isError).toBe(true);
    expect(stopped.text).toMatch(/^Container 201 \([\w-]+\) is not running/);
    const none = await h.call('proxmox_get_guest_os_info', { vmid: 106 });
    expect(none.isError).toBe(true);
    expect(none.text).toMatch(/No QEMU guest agent configured/);
  });

  it('runs a command through the agent', async () => {
    const r = await h.call('proxmox_exec_command', { vmid: 101, command: ['uname', '-a'] });
    expect(r.structured).toMatchObject({ exited: true, exitcode: 0, truncated: false });
    expect(r.text).toMatch(/^exit code 0\nstdout:\nLinux web-02 /);
    // No tool runs commands in containers: none is named.
    const ct = await h.call('proxmox_exec_command', { vmid: 200, command: ['true'] });
    expect(ct.text).toBe(
      'Guest 200 (ct-dns) is a container, not a VM: the QEMU guest agent runs in VMs only, and this server has no tool to run commands in containers.',
    );
  });
});

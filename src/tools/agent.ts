/**
 * The `agent` toolset (what a guest reports of itself) and `agent_exec` (running a command in a
 * VM through the QEMU guest agent, off unless chosen).
 */
import { z } from 'zod';
import { idAndName } from '../pve/index.js';
import { sleep } from '../pve/sleep.js';
import { resolveGuest, ToolError, vmid } from './common.js';
import { type AnyTool, defineTool, guestTargets, ok } from './define.js';
import { table } from './render.js';

// The QEMU guest agent runs in VMs; containers have no counterpart this server offers.
const AGENT_ONLY =
  'the QEMU guest agent runs in VMs only, and this server has no tool to run commands in containers';

const osInfo = defineTool({
  name: 'proxmox_get_guest_os_info',
  title: 'Guest OS (agent)',
  description:
    'Returns the operating system a running VM reports through the QEMU guest agent: name, version, kernel, architecture.',
  toolset: 'agent',
  access: 'read',
  targets: guestTargets,
  input: z.object({ vmid }),
  output: z.object({
    vmid: z.number(),
    name: z.string().optional(),
    prettyName: z.string().optional(),
    version: z.string().optional(),
    kernel: z.string().optional(),
    machine: z.string().optional(),
  }),
  async run(args, ctx) {
    const guest = await resolveGuest(ctx, args.vmid, { type: 'qemu', only: AGENT_ONLY });
    const info = (await ctx.pve.agent.osinfo(guest.node, guest.vmid)) as {
      result?: Record<string, string>;
    };
    const r = info.result ?? {};
    const data = {
      vmid: guest.vmid,
      name: r.name,
      prettyName: r['pretty-name'],
      version: r.version,
      kernel: r['kernel-release'],
      machine: r.machine,
    };
    return ok(
      data,
      `VM ${idAndName(guest)} runs ${data.prettyName ?? data.name ?? 'an unknown OS'}${data.kernel ? `, kernel ${data.kernel}` : ''}${data.machine ? ` (${data.machine})` : ''}.`,
    );
  },
});

const iface = z.object({
  name: z.string(),
  mac: z.string().optional(),
  addresses: z.array(z.string()),
});

const guestNetwork = defineTool({
  name: 'proxmox_get_guest_network',
  title: 'Guest IP addresses',
  description:
    "Returns a running guest's network interfaces and IP addresses: for VMs from the QEMU guest agent, for containers from the host.",
  toolset: 'agent',
  access: 'read',
  targets: guestTargets,
  input: z.object({ vmid }),
  output: z.object({ vmid: z.number(), interfaces: z.array(iface) }),
  async run(args, ctx) {
    const guest = await resolveGuest(ctx, args.vmid);
    let interfaces: z.infer<typeof iface>[];
    if (guest.type === 'qemu') {
      const answer = (await ctx.pve.agent.interfaces(guest.node, guest.vmid)) as {
        result?: {
          name: string;
          'hardware-address'?: string;
          'ip-addresses'?: { 'ip-address': string; prefix: number }[];
        }[];
      };
      interfaces = (answer.result ?? []).map((i) => ({
        name: i.name,
        mac: i['hardware-address'],
        addresses: (i['ip-addresses'] ?? []).map((a) => `${a['ip-address']}/${a.prefix}`),
      }));
    } else {
      const rows = (await ctx.pve.agent.lxcInterfaces(guest.node, guest.vmid)) as
        | { name: string; hwaddr?: string; inet?: string; inet6?: string }[]
        | null;
      // PVE answers null, not an error, for a container that is not running (LXC.pm get_interfaces).
      if (!rows)
        throw new ToolError(
          `Container ${idAndName(guest)} is not running: it has no interfaces to show. Start it with proxmox_start_container.`,
          { vmid: guest.vmid },
        );
      interfaces = rows.map((r) => ({
        name: r.name,
        mac: r.hwaddr,
        addresses: [r.inet, r.inet6].filter((a): a is string => Boolean(a)),
      }));
    }
    // The loopback is the same in every guest, and nothing to reach it by.
    const shown = interfaces.filter((i) => i.name !== 'lo');
    return ok(
      { vmid: guest.vmid, interfaces: shown },
      shown.length
        ? table(shown, [
            ['IFACE', (i) => i.name],
            ['MAC', (i) => i.mac],
            ['ADDRESSES', (i) => i.addresses.join(' ')],
          ])
        : 'No interfaces besides loopback.',
    );
  },
});

const MAX_OUTPUT = 16_384;

const execCommand = defineTool({
  name: 'proxmox_exec_command',
  title: 'Run a command in a VM',
  description:
    'Runs a command inside a running VM through the QEMU guest agent and returns its exit code and output (each capped at 16 KiB). The command is an argument list, not a shell line.',
  toolset: 'agent_exec',
  access: 'destructive',
  targets: guestTargets,
  input: z.object({
    vmid,
    command: z
      .array(z.string().min(1))
      .min(1)
      .max(64)
      .describe('Program and arguments, e.g. ["systemctl", "status", "nginx"]'),
    input: z.string().max(65_536).optional().describe('Standard input'),
    timeout: z.coerce
      .number()
      .int()
      .min(1)
      .max(600)
      .default(30)
      .describe('Seconds to wait for it to end'),
  }),
  output: z.object({
    vmid: z.number(),
    pid: z.number(),
    exited: z.boolean(),
    exitcode: z.number().optional(),
    stdout: z.string(),
    stderr: z.string(),
    truncated: z.boolean(),
  }),
  async run(args, ctx) {
    const guest = await resolveGuest(ctx, args.vmid, { type: 'qemu', only: AGENT_ONLY });
    const started = await ctx.pve.agent.exec(guest.node, guest.vmid, args.command, args.input);
    // A plan records the request and gets no process back: there is nothing to follow.
    if (!started)
      return ok(
        { vmid: guest.vmid, pid: 0, exited: false, stdout: '', stderr: '', truncated: false },
        `Would run ${JSON.stringify(args.command)} in VM ${idAndName(guest)}.`,
      );
    const { pid } = started;
    const deadline = Date.now() + args.timeout * 1000;
    let delay = 100;
    for (;;) {
      const s = (await ctx.pve.agent.execStatus(guest.node, guest.vmid, pid)) as {
        exited?: number;
        exitcode?: number;
        'out-data'?: string;
        'err-data'?: string;
      };
      if (s.exited) {
        const out = s['out-data'] ?? '';
        const err = s['err-data'] ?? '';
        const truncated = out.length > MAX_OUTPUT || err.length > MAX_OUTPUT;
        const data = {
          vmid: guest.vmid,
          pid,
          exited: true,
          exitcode: s.exitcode,
          stdout: out.slice(0, MAX_OUTPUT),
          stderr: err.slice(0, MAX_OUTPUT),
          truncated,
        };
        const text = [
          `exit code ${s.exitcode ?? '?'}`,
          data.stdout && `stdout:\n${data.stdout.trimEnd()}`,
          data.stderr && `stderr:\n${data.stderr.trimEnd()}`,
          truncated ? '(output truncated)' : '',
        ]
          .filter(Boolean)
          .join('\n');
        return ok(data, text);
      }
      if (Date.now() >= deadline) {
        throw new ToolError(
          `The command still runs after ${args.timeout}s in VM ${guest.vmid} (agent pid ${pid}); its output was not collected.`,
          { pid },
        );
      }
      await sleep(delay, ctx.signal);
      delay = Math.min(1_000, delay * 2);
    }
  },
});

export const agentTools: AnyTool[] = [osInfo, guestNetwork];
export const agentExecTools: AnyTool[] = [execCommand];

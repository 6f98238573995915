/** Guest power: start, stop, shut down, reboot, reset, suspend and resume, for VMs and containers. */
import { z } from 'zod';
import type { GuestType } from '../pve/index.js';
import { idAndName, kindOf } from '../pve/index.js';
import {
  optionalNode,
  resolveGuest,
  runTask,
  ToolError,
  taskFields,
  vmid,
  waitTimeout,
} from './common.js';
import { type Access, type AnyTool, defineTool, guestTargets, ok } from './define.js';

type PowerAction = 'start' | 'stop' | 'shutdown' | 'reboot' | 'reset' | 'suspend' | 'resume';

interface PowerSpec {
  type: GuestType;
  action: PowerAction;
  name: string;
  title: string;
  description: string;
  access: Access;
  idempotent?: boolean;
}

const powerOutput = z.object({
  vmid: z.number(),
  node: z.string(),
  action: z.string(),
  ...taskFields,
});

/** The state an action leaves a guest in, to skip calls that would change nothing. */
const alreadyDone: Partial<Record<PowerAction, (status: string, type: GuestType) => boolean>> = {
  start: (s) => s === 'running',
  stop: (s) => s === 'stopped',
  shutdown: (s) => s === 'stopped',
  // A container's resume restores a checkpoint: a running one has nothing to restore.
  resume: (s, type) => type === 'lxc' && s === 'running',
};

function powerTool(
  spec: PowerSpec,
  extra: z.ZodRawShape = {},
  params: (
    args: Record<string, unknown>,
  ) => Record<string, string | number | boolean | undefined> = () => ({}),
) {
  return defineTool({
    name: spec.name,
    title: spec.title,
    description: spec.description,
    toolset: 'core',
    access: spec.access,
    idempotent: spec.idempotent,
    targets: guestTargets,
    input: z.object({ vmid, node: optionalNode, ...extra, timeout: waitTimeout }),
    output: powerOutput,
    async run(args, ctx) {
      const guest = await resolveGuest(ctx, args.vmid, { type: spec.type, node: args.node });
      const what = `${spec.action[0]?.toUpperCase()}${spec.action.slice(1)} ${kindOf(spec.type)} ${idAndName(guest)} on ${guest.node}`;
      if (guest.template && (spec.action === 'start' || spec.action === 'resume')) {
        throw new ToolError(`${idAndName(guest)} is a template and cannot run; clone it instead.`);
      }
      const current = await ctx.pve.guests(spec.type).status(guest.node, guest.vmid);
      const status = String(current.status);
      if (spec.action === 'start' && current.qmpstatus === 'paused') {
        throw new ToolError(
          `VM ${idAndName(guest)} is paused, not stopped: resume it with proxmox_resume_vm.`,
        );
      }
      const done = alreadyDone[spec.action];
      if (done?.(status, spec.type)) {
        return ok(
          { vmid: guest.vmid, node: guest.node, action: spec.action, status: 'completed' as const },
          `${kindOf(spec.type, true)} ${idAndName(guest)} is already ${status}; nothing to do.`,
        );
      }
      const sent = params(args);
      const task = await ctx.pve.guests(spec.type)[spec.action](guest.node, guest.vmid, sent);
      const haStatus =
        spec.action === 'start'
          ? 'running'
          : /^(stop|shutdown)$/.test(spec.action)
            ? 'stopped'
            : undefined;
      const { summary, text } = await runTask(ctx, task, {
        timeout: args.timeout,
        what,
        ...(haStatus ? { ha: { guest, status: haStatus } } : {}),
        // pve-container's shutdown default timeout is 60 s (API2/LXC/Status.pm vm_shutdown).
        ...(spec.type === 'lxc' && sent.forceStop ? { killAfter: Number(sent.timeout ?? 60) } : {}),
      });
      return ok({ vmid: guest.vmid, node: guest.node, action: spec.action, ...summary }, text);
    },
  });
}

const shutdownExtra = {
  shutdownTimeout: z.coerce
    .number()
    .int()
    .min(1)
    .max(3_600)
    .optional()
    .describe('Seconds the guest gets to shut down'),
  forceStop: z.boolean().default(false).describe('Stop hard after shutdownTimeout'),
};
const shutdownParams = (a: Record<string, unknown>) => ({
  timeout: a.shutdownTimeout as number | undefined,
  forceStop: a.forceStop ? true : undefined,
});

export const powerTools: AnyTool[] = [
  powerTool({
    type: 'qemu',
    action: 'start',
    name: 'proxmox_start_vm',
    title: 'Start VM',
    access: 'write',
    idempotent: true,
    description:
      'Starts a VM (or one suspended to disk). Waits for the start task and returns its outcome.',
  }),
  powerTool({
    type: 'qemu',
    action: 'stop',
    name: 'proxmox_stop_vm',
    title: 'Stop VM',
    access: 'destructive',
    idempotent: true,
    description:
      'Stops a VM at once, like pulling the power: unsaved data in the guest is lost. proxmox_shutdown_vm shuts down cleanly.',
  }),
  powerTool(
    {
      type: 'qemu',
      action: 'shutdown',
      name: 'proxmox_shutdown_vm',
      title: 'Shut down VM',
      access: 'write',
      idempotent: true,
      description:
        'Asks a VM to shut down cleanly (ACPI or guest agent); optionally stops it hard after a timeout.',
    },
    shutdownExtra,
    shutdownParams,
  ),
  powerTool({
    type: 'qemu',
    action: 'reboot',
    name: 'proxmox_reboot_vm',
    title: 'Reboot VM',
    access: 'write',
    description: 'Reboots a running VM cleanly; pending configuration changes apply.',
  }),
  powerTool({
    type: 'qemu',
    action: 'reset',
    name: 'proxmox_reset_vm',
    title: 'Reset VM',
    access: 'destructive',
    description:
      'Resets a running VM like a hardware reset button: unsaved data in the guest is lost.',
  }),
  powerTool(
    {
      type: 'qemu',
      action: 'suspend',
      name: 'proxmox_suspend_vm',
      title: 'Suspend VM',
      access: 'write',
      description:
        'Pauses a running VM in memory, or with toDisk saves its RAM and stops it (hibernation).',
    },
    { toDisk: z.boolean().default(false).describe('Save RAM to disk and stop') },
    (a) => ({ todisk: a.toDisk ? true : undefined }),
  ),
  powerTool({
    type: 'qemu',
    action: 'resume',
    name: 'proxmox_resume_vm',
    title: 'Resume VM',
    access: 'write',
    idempotent: true,
    description: 'Resumes a paused VM, or one suspended to disk.',
  }),
  powerTool({
    type: 'lxc',
    action: 'start',
    name: 'proxmox_start_container',
    title: 'Start container',
    access: 'write',
    idempotent: true,
    description: 'Starts an LXC container and waits for the start task.',
  }),
  powerTool({
    type: 'lxc',
    action: 'stop',
    name: 'proxmox_stop_container',
    title: 'Stop container',
    access: 'destructive',
    idempotent: true,
    description:
      'Stops an LXC container at once, killing its processes. proxmox_shutdown_container shuts down cleanly.',
  }),
  powerTool(
    {
      type: 'lxc',
      action: 'shutdown',
      name: 'proxmox_shutdown_container',
      title: 'Shut down container',
      access: 'write',
      idempotent: true,
      description: 'Shuts an LXC container down cleanly; optionally stops it hard after a timeout.',
    },
    shutdownExtra,
    shutdownParams,
  ),
  powerTool({
    type: 'lxc',
    action: 'reboot',
    name: 'proxmox_reboot_container',
    title: 'Reboot container',
    access: 'write',
    description: 'Reboots a running LXC container.',
  }),
  powerTool({
    type: 'lxc',
    action: 'suspend',
    name: 'proxmox_suspend_container',
    title: 'Suspend container',
    access: 'write',
    description:
      'Checkpoints a running container with CRIU (experimental in PVE) and stops it; resume restores it.',
  }),
  powerTool({
    type: 'lxc',
    action: 'resume',
    name: 'proxmox_resume_container',
    title: 'Resume container',
    access: 'write',
    idempotent: true,
    description: 'Restores a container from its suspend checkpoint (CRIU).',
  }),
];

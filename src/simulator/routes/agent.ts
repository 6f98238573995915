/** The QEMU guest agent of VMs that have it, and the interfaces of running containers. */
import { parsePropertyString } from '../../contract/propstring.js';
import type { Ctx, Routes } from '../context.js';
import { num } from '../context.js';
import { fail } from '../errors.js';
import { hash32 } from '../random.js';
import type { SimGuest } from '../state.js';
import { guestFor, nodeParam } from './guest-common.js';

const OS: Record<
  string,
  { id: string; name: string; version: string; versionId: string; kernel: string }
> = {
  l26: {
    id: 'debian',
    name: 'Debian GNU/Linux',
    version: '12 (bookworm)',
    versionId: '12',
    kernel: '6.1.0-27-amd64',
  },
  win11: {
    id: 'mswindows',
    name: 'Microsoft Windows',
    version: 'Microsoft Windows 11',
    versionId: '11',
    kernel: '10.0',
  },
  win10: {
    id: 'mswindows',
    name: 'Microsoft Windows',
    version: 'Microsoft Windows 10',
    versionId: '10',
    kernel: '10.0',
  },
};

/**
 * The agent answers only when configured, the VM runs, and the agent inside is up. Only an unset
 * `agent` is "not configured"; a disabled one gives the VM no agent socket, so its ping fails
 * (qemu-server PVE/QemuServer/Agent.pm assert_agent_available).
 */
function agentGuest(ctx: Ctx): SimGuest {
  const guest = guestFor(ctx, 'qemu');
  if (guest.config.agent === undefined) throw fail('No QEMU guest agent configured');
  if (!guest.running) throw fail(`VM ${guest.vmid} is not running`);
  const enabled = /^(1|on|yes|true)$/i.test(
    parsePropertyString(guest.config.agent, 'enabled').enabled ?? '',
  );
  if (!enabled || !guest.agentRunning || guest.paused)
    throw fail('QEMU guest agent is not running');
  return guest;
}

/** The guest's address on vmbr0, derived from its vmid. */
export function guestIp(guest: SimGuest): string {
  return `10.0.${Math.floor(guest.vmid / 250) + 1}.${(guest.vmid % 250) + 2}`;
}

function macOf(guest: SimGuest, key: string): string | undefined {
  const value = guest.config[key];
  if (!value) return undefined;
  const opts = parsePropertyString(value);
  return (
    opts.hwaddr ?? Object.values(opts).find((v) => /^[0-9A-F]{2}(:[0-9A-F]{2}){5}$/i.test(v))
  )?.toLowerCase();
}

/** What a simulated shell answers to a few common commands. */
function runCommand(
  guest: SimGuest,
  argv: string[],
): { exitcode: number; out: string; err: string } {
  const [cmd = '', ...args] = argv;
  const name = guest.config.name ?? `vm${guest.vmid}`;
  const os = OS[guest.config.ostype ?? 'l26'] ?? OS.l26;
  const base = cmd.split('/').pop() ?? cmd;
  switch (base) {
    case 'hostname':
      return { exitcode: 0, out: `${name}\n`, err: '' };
    case 'uname':
      return {
        exitcode: 0,
        out: args.includes('-a')
          ? `Linux ${name} ${os?.kernel} #1 SMP PREEMPT_DYNAMIC Debian x86_64 GNU/Linux\n`
          : 'Linux\n',
        err: '',
      };
    case 'echo':
      return { exitcode: 0, out: `${args.join(' ')}\n`, err: '' };
    case 'true':
      return { exitcode: 0, out: '', err: '' };
    case 'false':
      return { exitcode: 1, out: '', err: '' };
    case 'uptime':
      return {
        exitcode: 0,
        out: ' 12:00:00 up 3 days,  2:14,  0 users,  load average: 0.08, 0.12, 0.10\n',
        err: '',
      };
    case 'cat':
      if (args[0] === '/etc/os-release') {
        return {
          exitcode: 0,
          out: `PRETTY_NAME="${os?.name} ${os?.version}"\nNAME="${os?.name}"\nVERSION_ID="${os?.versionId}"\nID=${os?.id}\n`,
          err: '',
        };
      }
      return { exitcode: 1, out: '', err: `cat: ${args[0] ?? ''}: No such file or directory\n` };
    case 'df':
      return {
        exitcode: 0,
        out: 'Filesystem      Size  Used Avail Use% Mounted on\n/dev/sda1        31G  9.2G   20G  32% /\n',
        err: '',
      };
    case 'systemctl':
      return {
        exitcode: 0,
        out: `  ${args[args.length - 1] ?? 'unit'}.service loaded active running\n`,
        err: '',
      };
    default:
      return { exitcode: 127, out: '', err: `sh: 1: ${cmd}: not found\n` };
  }
}

export const agentRoutes: Routes = {
  'POST /nodes/{node}/qemu/{vmid}/agent/ping': (ctx) => {
    agentGuest(ctx);
    return { result: {} };
  },
  'GET /nodes/{node}/qemu/{vmid}/agent/info': (ctx) => {
    agentGuest(ctx);
    const commands = [
      'guest-exec',
      'guest-exec-status',
      'guest-get-osinfo',
      'guest-network-get-interfaces',
      'guest-ping',
      'guest-info',
      'guest-shutdown',
      'guest-fsfreeze-freeze',
      'guest-fsfreeze-thaw',
    ];
    return {
      result: {
        version: '7.2.0',
        supported_commands: commands.map((name) => ({
          name,
          enabled: true,
          'success-response': name !== 'guest-shutdown',
        })),
      },
    };
  },
  'GET /nodes/{node}/qemu/{vmid}/agent/get-osinfo': (ctx) => {
    const guest = agentGuest(ctx);
    const os = OS[guest.config.ostype ?? 'l26'] ?? OS.l26;
    return {
      result: {
        id: os?.id,
        name: os?.name,
        'pretty-name': `${os?.name} ${os?.version}`,
        version: os?.version,
        'version-id': os?.versionId,
        'kernel-release': os?.kernel,
        'kernel-version': '#1 SMP PREEMPT_DYNAMIC Debian 6.1.115-1 (2024-11-01)',
        machine: 'x86_64',
      },
    };
  },
  'GET /nodes/{node}/qemu/{vmid}/agent/network-get-interfaces': (ctx) => {
    const guest = agentGuest(ctx);
    const nics = Object.keys(guest.config)
      .filter((k) => /^net\d+$/.test(k))
      .sort();
    const result: Record<string, unknown>[] = [
      {
        name: 'lo',
        'hardware-address': '00:00:00:00:00:00',
        'ip-addresses': [
          { 'ip-address-type': 'ipv4', 'ip-address': '127.0.0.1', prefix: 8 },
          { 'ip-address-type': 'ipv6', 'ip-address': '::1', prefix: 128 },
        ],
      },
    ];
    nics.forEach((key, i) => {
      const mac = macOf(guest, key) ?? '';
      const h = hash32(guest.vmid, key);
      result.push({
        name: `ens${18 + i}`,
        'hardware-address': mac,
        'ip-addresses': [
          {
            'ip-address-type': 'ipv4',
            'ip-address': i === 0 ? guestIp(guest) : `192.168.${i}.${(guest.vmid % 250) + 2}`,
            prefix: 24,
          },
          {
            'ip-address-type': 'ipv6',
            'ip-address': `fe80::be24:11ff:fe${mac.slice(9, 11)}:${mac.slice(12, 14)}${mac.slice(15, 17)}`,
            prefix: 64,
          },
        ],
        statistics: {
          'rx-bytes': h % 9_000_000_000,
          'tx-bytes': (h >>> 3) % 4_000_000_000,
          'rx-packets': h % 90_000_000,
          'tx-packets': (h >>> 4) % 40_000_000,
          'rx-errs': 0,
          'tx-errs': 0,
          'rx-dropped': 0,
          'tx-dropped': 0,
        },
      });
    });
    return { result };
  },
  'POST /nodes/{node}/qemu/{vmid}/agent/exec': (ctx) => {
    const guest = agentGuest(ctx);
    const raw = ctx.params.command;
    const argv = Array.isArray(raw)
      ? raw
      : String(raw ?? '')
          .split(/\s+/)
          .filter(Boolean);
    const result = runCommand(guest, argv);
    const pid =
      1_000 + guest.agentProcesses.size + (hash32(guest.vmid, guest.agentProcesses.size) % 30_000);
    guest.agentProcesses.set(pid, {
      pid,
      startedAt: ctx.clock.now(),
      // Timed like a task: the engine's scale speeds it up (0: done at once).
      runsFor: Math.round(200 * ctx.tasks.durationScale),
      ...result,
    });
    ctx.count('qemu.agent-exec');
    return { pid };
  },
  'GET /nodes/{node}/qemu/{vmid}/agent/exec-status': (ctx) => {
    const guest = agentGuest(ctx);
    const pid = num(ctx, 'pid') ?? 0;
    const proc = guest.agentProcesses.get(pid);
    // The agent's error, as qemu-server PVE/QMPClient.pm reports a failed qga command.
    if (!proc)
      throw fail(
        `VM ${guest.vmid} qga command 'guest-exec-status' failed - Invalid parameter 'pid'`,
      );
    if (ctx.clock.now() < proc.startedAt + proc.runsFor) return { exited: 0 };
    const out: Record<string, unknown> = { exited: 1, exitcode: proc.exitcode };
    if (proc.out) out['out-data'] = proc.out;
    if (proc.err) out['err-data'] = proc.err;
    return out;
  },
  'GET /nodes/{node}/lxc/{vmid}/interfaces': (ctx) => {
    // pve-container PVE/LXC.pm get_interfaces reads no config: without a running container of
    // that vmid on this node there is no pid to enter, and the answer is null.
    const node = nodeParam(ctx);
    const guest = ctx.cluster.guests.get(num(ctx, 'vmid') ?? 0);
    if (!guest || guest.node !== node || guest.type !== 'lxc' || !guest.running) return null;
    // PVE 9 reports both the old (hwaddr, inet) and the agent-style (ip-addresses) fields.
    const row = (name: string, mac: string, inet: string, inet6?: string) => {
      const [ip = '', prefix = '32'] = inet.split('/');
      const addresses: Record<string, unknown>[] = [
        { 'ip-address': ip, 'ip-address-type': 'inet', prefix: Number(prefix) },
      ];
      const out: Record<string, unknown> = {
        name,
        hwaddr: mac,
        'hardware-address': mac,
        inet,
        'ip-addresses': addresses,
      };
      if (inet6) {
        const [ip6 = '', prefix6 = '128'] = inet6.split('/');
        addresses.push({ 'ip-address': ip6, 'ip-address-type': 'inet6', prefix: Number(prefix6) });
        out.inet6 = inet6;
      }
      return out;
    };
    const out = [row('lo', '00:00:00:00:00:00', '127.0.0.1/8', '::1/128')];
    for (const key of Object.keys(guest.config)
      .filter((k) => /^net\d+$/.test(k))
      .sort()) {
      const opts = parsePropertyString(guest.config[key] ?? '');
      const ip =
        opts.ip && opts.ip !== 'dhcp' && opts.ip !== 'manual' ? opts.ip : `${guestIp(guest)}/24`;
      out.push(row(opts.name ?? key.replace('net', 'eth'), (opts.hwaddr ?? '').toLowerCase(), ip));
    }
    return out;
  },
};

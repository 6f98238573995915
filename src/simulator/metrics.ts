/**
 * Usage figures and RRD series, computed from (seed, id, time) so that every run of a dataset
 * shows the same numbers at the same simulated time.
 */
import { parsePropertyString } from '../contract/propstring.js';
import { unit } from './random.js';
import type { Cluster, SimGuest, SimNode } from './state.js';

export interface GuestUsage {
  cpu: number;
  cpus: number;
  mem: number;
  maxmem: number;
  disk: number;
  maxdisk: number;
  netin: number;
  netout: number;
  diskread: number;
  diskwrite: number;
  uptime: number;
}

const MIB = 2 ** 20;

/** A smooth load curve between 0 and 1: a daily wave, a slower drift and per-minute noise. */
function load(seed: number, id: string | number, t: number): number {
  const phase = unit(seed, id, 'phase') * Math.PI * 2;
  const base = 0.05 + unit(seed, id, 'base') * 0.35;
  const daily = Math.sin((t / 86_400_000) * Math.PI * 2 + phase) * 0.15;
  const noise = (unit(seed, id, Math.floor(t / 60_000)) - 0.5) * 0.1;
  return Math.min(1, Math.max(0.005, base + daily + noise));
}

export function guestCpus(guest: SimGuest, node?: SimNode): number {
  const cores = Number(guest.config.cores ?? (guest.type === 'lxc' ? (node?.cpus ?? 1) : 1));
  return guest.type === 'qemu' ? cores * Number(guest.config.sockets ?? 1) : cores;
}

export function guestMaxmem(guest: SimGuest): number {
  const memory = guest.config.memory ?? '512';
  const current = parsePropertyString(memory, 'current').current ?? '512';
  return Number(current) * MIB;
}

/** The size of the guest's boot or root disk, as PVE reports `maxdisk`. */
export function guestMaxdisk(cluster: Cluster, guest: SimGuest): number {
  const disks = cluster
    .disksOf(guest.type, guest.config)
    .filter((d) => !d.key.startsWith('unused'));
  const root = disks.find((d) => d.key === 'rootfs') ?? disks[0];
  return root?.size ?? 0;
}

export function guestUsage(
  cluster: Cluster,
  guest: SimGuest,
  now = cluster.clock.now(),
): GuestUsage {
  const node = cluster.nodes.get(guest.node);
  const cpus = guestCpus(guest, node);
  const maxmem = guestMaxmem(guest);
  const maxdisk = guestMaxdisk(cluster, guest);
  // Containers report their root file system's use; VMs report none without the agent.
  const disk = guest.type === 'lxc' ? Math.round(maxdisk * guest.diskUsage) : 0;
  if (!guest.running || !node?.online) {
    return {
      cpu: 0,
      cpus,
      mem: 0,
      maxmem,
      disk,
      maxdisk,
      netin: 0,
      netout: 0,
      diskread: 0,
      diskwrite: 0,
      uptime: 0,
    };
  }
  const seed = cluster.seed;
  const uptime = Math.max(0, Math.floor((now - guest.startedAt) / 1000));
  const busy = guest.paused ? 0 : load(seed, guest.vmid, now);
  const memShare = 0.25 + unit(seed, guest.vmid, 'mem') * 0.5 + busy * 0.1;
  const rate = (name: string, max: number) => Math.floor(unit(seed, guest.vmid, name) * max);
  return {
    cpu: Number((busy * (guest.paused ? 0 : 1)).toFixed(4)),
    cpus,
    mem: Math.round(maxmem * Math.min(0.95, memShare)),
    maxmem,
    disk,
    maxdisk,
    netin: rate('netin', 200_000) * uptime,
    netout: rate('netout', 120_000) * uptime,
    diskread: rate('diskread', 400_000) * uptime,
    diskwrite: rate('diskwrite', 250_000) * uptime,
    uptime,
  };
}

export interface NodeUsage {
  cpu: number;
  maxcpu: number;
  mem: number;
  maxmem: number;
  disk: number;
  maxdisk: number;
  uptime: number;
  loadavg: [number, number, number];
}

/** When a node booted, in epoch seconds: its uptime and the start of its journal. */
export const nodeBootTime = (node: SimNode) => 1_760_000_000 - node.nodeid * 3600;

/** Node usage given the usage of its guests (callers pass them so a listing walks guests once). */
export function nodeUsage(
  cluster: Cluster,
  node: SimNode,
  guestCpuSum: number,
  guestMemSum: number,
  now = cluster.clock.now(),
): NodeUsage {
  if (!node.online) {
    return {
      cpu: 0,
      maxcpu: node.cpus,
      mem: 0,
      maxmem: node.memory,
      disk: 0,
      maxdisk: node.root,
      uptime: 0,
      loadavg: [0, 0, 0],
    };
  }
  const own = load(cluster.seed, node.name, now) * 0.05;
  const cpu = Math.min(1, own + guestCpuSum / node.cpus);
  const load1 = Number((cpu * node.cpus * 0.8).toFixed(2));
  return {
    cpu: Number(cpu.toFixed(4)),
    maxcpu: node.cpus,
    mem: Math.min(node.memory, Math.round(3 * 2 ** 30 + guestMemSum)),
    maxmem: node.memory,
    disk: Math.round(node.root * (0.12 + unit(cluster.seed, node.name, 'root') * 0.2)),
    maxdisk: node.root,
    uptime: Math.floor(now / 1000) - nodeBootTime(node),
    loadavg: [load1, Number((load1 * 0.9).toFixed(2)), Number((load1 * 0.8).toFixed(2))],
  };
}

/** The sums nodeUsage needs, for every node, from one pass over the guests. */
export function guestSumsByNode(cluster: Cluster, now = cluster.clock.now()) {
  const sums = new Map<string, { cpu: number; mem: number }>();
  for (const guest of cluster.guests.values()) {
    if (!guest.running) continue;
    const usage = guestUsage(cluster, guest, now);
    const s = sums.get(guest.node) ?? { cpu: 0, mem: 0 };
    s.cpu += usage.cpu * usage.cpus;
    s.mem += usage.mem;
    sums.set(guest.node, s);
  }
  return sums;
}

export const RRD_TIMEFRAMES = {
  hour: 60,
  day: 1_800,
  week: 10_800,
  month: 43_200,
  year: 604_800,
  // PVE 9 keeps ten years at about 52 days per point.
  decade: 4_492_800,
} as const;
export type Timeframe = keyof typeof RRD_TIMEFRAMES;
const RRD_POINTS = 70;

function rrdTimes(timeframe: Timeframe, now: number): number[] {
  const step = RRD_TIMEFRAMES[timeframe];
  const last = Math.floor(now / 1000 / step) * step;
  return Array.from({ length: RRD_POINTS }, (_, i) => last - (RRD_POINTS - 1 - i) * step);
}

/** RRD points for a guest: rates per second, averages or maxima over each step. */
export function guestRrd(
  cluster: Cluster,
  guest: SimGuest,
  timeframe: Timeframe,
  cf: 'AVERAGE' | 'MAX',
) {
  const now = cluster.clock.now();
  const peak = cf === 'MAX' ? 1.3 : 1;
  return rrdTimes(timeframe, now).map((time) => {
    // Before pvestatd's first report on a new guest its RRD holds nothing: PVE's
    // create_rrd_data (pve-cluster src/PVE/RRD.pm) gives such a row its time only.
    if (guest.reportedFrom !== undefined && time * 1000 < guest.reportedFrom) return { time };
    const usage = guestUsage(cluster, guest, time * 1000);
    const up = guest.running && time * 1000 >= guest.startedAt;
    const rate = (name: string, max: number) =>
      up ? Math.round(unit(cluster.seed, guest.vmid, name, time) * max * peak) : 0;
    return {
      time,
      maxcpu: usage.cpus,
      cpu: up
        ? Math.min(1, Number((load(cluster.seed, guest.vmid, time * 1000) * peak).toFixed(4)))
        : 0,
      maxmem: usage.maxmem,
      mem: up ? Math.round(usage.maxmem * (0.3 + unit(cluster.seed, guest.vmid, 'mem') * 0.5)) : 0,
      maxdisk: usage.maxdisk,
      disk: usage.disk,
      netin: rate('netin', 200_000),
      netout: rate('netout', 120_000),
      diskread: rate('diskread', 400_000),
      diskwrite: rate('diskwrite', 250_000),
    };
  });
}

export function nodeRrd(
  cluster: Cluster,
  node: SimNode,
  timeframe: Timeframe,
  cf: 'AVERAGE' | 'MAX',
) {
  const now = cluster.clock.now();
  const peak = cf === 'MAX' ? 1.25 : 1;
  return rrdTimes(timeframe, now).map((time) => {
    const cpu = Math.min(1, load(cluster.seed, node.name, time * 1000) * 0.7 * peak);
    const memused = Math.round(node.memory * (0.35 + cpu * 0.3));
    return {
      time,
      cpu: Number(cpu.toFixed(4)),
      iowait: Number((cpu * 0.05).toFixed(4)),
      loadavg: Number((cpu * node.cpus * 0.8).toFixed(2)),
      maxcpu: node.cpus,
      memtotal: node.memory,
      memused,
      swaptotal: 8 * 2 ** 30,
      swapused: Math.round(2 ** 27 * cpu),
      roottotal: node.root,
      rootused: Math.round(node.root * 0.2),
      netin: Math.round(unit(cluster.seed, node.name, 'in', time) * 5_000_000 * peak),
      netout: Math.round(unit(cluster.seed, node.name, 'out', time) * 3_000_000 * peak),
    };
  });
}

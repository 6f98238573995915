/** A node's own views: status, RRD metrics, network interfaces. */
import type { Ctx, Routes } from '../context.js';
import { str } from '../context.js';
import { guestSumsByNode, nodeRrd, nodeUsage, type Timeframe } from '../metrics.js';
import { nodeParam } from './guest-common.js';

/** The running kernel, as `uname` tells it. */
export const KERNEL = {
  release: '6.14.11-4-pve',
  version: '#1 SMP PREEMPT_DYNAMIC PMX 6.14.11-4 (2025-10-10T08:04Z)',
};

export function nodeOf(ctx: Ctx) {
  const name = nodeParam(ctx);
  const node = ctx.cluster.nodes.get(name);
  if (!node) throw new Error('unreachable: nodeParam checked the node');
  return node;
}

export const nodeRoutes: Routes = {
  'GET /nodes/{node}/status': (ctx) => {
    const node = nodeOf(ctx);
    const sums = guestSumsByNode(ctx.cluster).get(node.name) ?? { cpu: 0, mem: 0 };
    const u = nodeUsage(ctx.cluster, node, sums.cpu, sums.mem);
    const swap = 8 * 2 ** 30;
    return {
      uptime: u.uptime,
      cpu: u.cpu,
      wait: Number((u.cpu * 0.04).toFixed(4)),
      loadavg: u.loadavg.map((l) => l.toFixed(2)),
      kversion: `Linux ${KERNEL.release} ${KERNEL.version}`,
      pveversion: `pve-manager/${ctx.cluster.version}/2ee4e5bd1d9c55b8`,
      cpuinfo: {
        model: node.cpuModel,
        cpus: node.cpus,
        cores: node.cpus / 2,
        sockets: 1,
        mhz: '3000.000',
        hvm: '1',
        flags:
          'fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good nopl nonstop_tsc cpuid extd_apicid aperfmperf pni pclmulqdq monitor ssse3 fma cx16 pcid sse4_1 sse4_2 movbe popcnt aes xsave avx f16c rdrand lahf_lm cmp_legacy svm extapic cr8_legacy abm sse4a misalignsse 3dnowprefetch osvw ibs skinit wdt tce topoext perfctr_core perfctr_nb bpext perfctr_llc mwaitx cpb cat_l3 cdp_l3 hw_pstate ssbd mba ibrs ibpb stibp vmmcall fsgsbase bmi1 avx2 smep bmi2 erms invpcid cqm rdt_a rdseed adx smap clflushopt clwb sha_ni xsaveopt xsavec xgetbv1 xsaves cqm_llc cqm_occup_llc cqm_mbm_total cqm_mbm_local clzero irperf xsaveerptr rdpru wbnoinvd amd_ppin arat npt lbrv svm_lock nrip_save tsc_scale vmcb_clean flushbyasid decodeassists pausefilter pfthreshold v_vmsave_vmload vgif v_spec_ctrl umip pku ospke vaes vpclmulqdq rdpid overflow_recov succor smca',
        user_hz: 100,
      },
      memory: { total: u.maxmem, used: u.mem, free: u.maxmem - u.mem, available: u.maxmem - u.mem },
      swap: { total: swap, used: 0, free: swap },
      rootfs: {
        total: u.maxdisk,
        used: u.disk,
        avail: u.maxdisk - u.disk,
        free: u.maxdisk - u.disk,
      },
      ksm: { shared: 0 },
      'boot-info': { mode: 'efi', secureboot: 0 },
      'current-kernel': {
        sysname: 'Linux',
        release: KERNEL.release,
        version: KERNEL.version,
        machine: 'x86_64',
      },
      idle: 0,
    };
  },
  'GET /nodes/{node}/rrddata': (ctx) =>
    nodeRrd(
      ctx.cluster,
      nodeOf(ctx),
      (str(ctx, 'timeframe') ?? 'hour') as Timeframe,
      str(ctx, 'cf') === 'MAX' ? 'MAX' : 'AVERAGE',
    ),
  'GET /nodes/{node}/network': (ctx) => {
    const node = nodeOf(ctx);
    const type = str(ctx, 'type');
    const matches = (t: string) =>
      !type ||
      type === t ||
      (type === 'any_bridge' && (t === 'bridge' || t === 'OVSBridge')) ||
      (type === 'any_local_bridge' && t === 'bridge');
    return node.networks
      .filter((n) => matches(n.type))
      .map((n, i) => {
        const row: Record<string, unknown> = {
          iface: n.iface,
          type: n.type,
          active: n.active ? 1 : undefined,
          autostart: n.autostart ? 1 : undefined,
          method: n.method ?? 'manual',
          method6: 'manual',
          families: ['inet'],
          priority: i + 3,
        };
        if (n.cidr) {
          const [address, bits = '24'] = n.cidr.split('/');
          row.cidr = n.cidr;
          row.address = address;
          row.netmask = bits;
        }
        if (n.gateway) row.gateway = n.gateway;
        if (n.bridge_ports !== undefined) {
          row.bridge_ports = n.bridge_ports;
          row.bridge_stp = 'off';
          row.bridge_fd = '0';
        }
        if (n.comments) row.comments = n.comments;
        return Object.fromEntries(Object.entries(row).filter(([, v]) => v !== undefined));
      });
  },
};

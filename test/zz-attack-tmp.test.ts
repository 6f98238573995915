import { it, expect } from 'vitest';
import { startHarness } from '/work/main/test/helpers/mcp.ts';

const decline = () => ({ action: 'decline' as const });
const accept = () => ({ action: 'accept' as const, content: { confirm: true } });
const prot = { vmids: ['102'], tags: ['PROD'], pools: [] as string[] };

function changes(h: any) {
  return h.sim.sim.requests.filter((r: any) => r.method !== 'GET').map((r: any) => `${r.method} ${r.path} ${r.status}`);
}

it('T1 create_vm iso trick attaches protected disk, no confirm', async () => {
  const asked: string[] = [];
  const h = await startHarness({
    config: { toolsets: ['all'], confirm: 'elicit' },
    cluster: { scope: { protected: { vmids: ['102'], tags: [], pools: [] } } },
    elicit: (m) => { asked.push(m); return decline(); },
  });
  const r = await h.call('proxmox_create_vm', { name: 'x', node: 'pve1', iso: 'file=local-lvm:vm-102-disk-0' });
  console.log('T1', r.isError, r.text);
  console.log('T1 asked', asked);
  console.log('T1 changes', changes(h));
  for (const [id, g] of h.sim.sim.cluster.guests) if (id > 203 && id < 9000) console.log('T1 new guest', id, g.config);
  await h.close();
});

it('T2 convert_to_template no confirm', async () => {
  const asked: string[] = [];
  const h = await startHarness({
    config: { toolsets: ['all'], confirm: 'elicit' },
    cluster: { scope: { protected: { vmids: ['102'], tags: [], pools: [] } } },
    elicit: (m) => { asked.push(m); return decline(); },
  });
  const r = await h.call('proxmox_convert_to_template', { vmid: 103 });
  console.log('T2', r.isError, r.text, 'asked', asked.length);
  console.log('T2 changes', changes(h));
  const g = h.sim.sim.cluster.guests.get(103);
  console.log('T2 103 template', g.template, g.config.template, g.config.scsi0);
  await h.close();
});

it('T3 raw file= key attaches protected disk to 103 (accept)', async () => {
  const asked: string[] = [];
  const h = await startHarness({
    config: { toolsets: ['all'], confirm: 'elicit' },
    cluster: { scope: { protected: { vmids: ['102'], tags: [], pools: [] } } },
    elicit: (m) => { asked.push(m); return accept(); },
  });
  let r = await h.call('proxmox_api_request', { method: 'PUT', path: '/nodes/pve1/qemu/103/config', params: { unused5: 'file=local-lvm:vm-102-disk-1' } });
  console.log('T3a', r.isError, r.text);
  r = await h.call('proxmox_api_request', { method: 'PUT', path: '/nodes/pve1/qemu/103/config', params: { delete: 'unused5' } });
  console.log('T3b', r.isError, r.text);
  console.log('T3 asked', asked);
  console.log('T3 changes', changes(h));
  console.log('T3 102 config', h.sim.sim.cluster.guests.get(102).config);
  console.log('T3 vols', [...h.sim.sim.cluster.volumes.keys()].filter((k: string) => k.includes('102')));
  await h.close();
});

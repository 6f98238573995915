import { describe, expect, it } from 'vitest';
import { getOperation } from '../../src/contract/index.js';
import {
  formatPropertyString,
  formatSize,
  parsePropertyString,
  parseSize,
} from '../../src/contract/propstring.js';
import { paramSpec, validateParams } from '../../src/contract/validate.js';
import { buildDataset } from '../../src/simulator/datasets.js';

const PROPERTY_KEYS =
  /^(net\d+|scsi\d+|sata\d+|ide\d+|virtio\d+|rootfs|mp\d+|efidisk0|tpmstate0|smbios1|ipconfig\d+|features|boot|meta)$/;

describe('property strings', () => {
  it('parse and format back', () => {
    const net = 'virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall=1';
    expect(parsePropertyString(net, 'model')).toEqual({
      virtio: 'BC:24:11:00:00:01',
      bridge: 'vmbr0',
      firewall: '1',
    });
    expect(formatPropertyString(parsePropertyString(net, 'model'), 'model')).toBe(net);
    const disk = 'local-lvm:vm-100-disk-0,size=32G';
    expect(parsePropertyString(disk, 'file')).toEqual({
      file: 'local-lvm:vm-100-disk-0',
      size: '32G',
    });
    expect(
      formatPropertyString({ file: 'local-lvm:vm-100-disk-0', size: '32G', ssd: true }, 'file'),
    ).toBe(`${disk},ssd=1`);
    expect(() => parsePropertyString('a=1,a=2')).toThrow(/duplicate key/);
    expect(() => parsePropertyString('bare')).toThrow(/value without key/);
  });

  it('sizes read and write as PVE writes them', () => {
    expect(parseSize('32G')).toBe(32 * 2 ** 30);
    expect(parseSize('512M')).toBe(512 * 2 ** 20);
    expect(parseSize('1.5T')).toBe(1.5 * 2 ** 40);
    expect(parseSize('10X')).toBeUndefined();
    expect(formatSize(32 * 2 ** 30)).toBe('32G');
    expect(formatSize(1536 * 2 ** 20)).toBe('1536M');
  });

  it.each(['small', 'large'] as const)(
    'round-trip every disk and NIC of the %s dataset, which the official schema accepts',
    (name) => {
      const dataset = buildDataset(name);
      const ops = {
        qemu: getOperation('POST', '/nodes/{node}/qemu'),
        lxc: getOperation('POST', '/nodes/{node}/lxc'),
      };
      let checked = 0;
      for (const guest of dataset.guests) {
        const op = ops[guest.type];
        if (!op) throw new Error('contract lacks create');
        for (const [key, raw] of Object.entries(guest.config)) {
          const value = String(raw);
          if (PROPERTY_KEYS.test(key)) {
            const format = paramSpec(op.params, key)?.spec.format;
            const defaultKey =
              typeof format === 'object'
                ? Object.keys(format).find((k) => format[k]?.default_key)
                : undefined;
            expect(
              formatPropertyString(parsePropertyString(value, defaultKey), defaultKey),
              `${guest.vmid} ${key}`,
            ).toBe(value);
            checked++;
          }
        }
        // The whole config is a valid create request for PVE's schema (but `meta`, which PVE writes).
        const params = Object.fromEntries(
          Object.entries(guest.config)
            .filter(([k]) => k !== 'meta')
            .map(([k, v]) => [k, String(v)]),
        );
        const { errors } = validateParams(op, {
          ...params,
          node: guest.node,
          vmid: String(guest.vmid),
          ...(guest.type === 'lxc' ? { ostemplate: 'local:vztmpl/x.tar.zst' } : {}),
        });
        expect(errors, `guest ${guest.vmid}`).toBeUndefined();
      }
      expect(checked).toBeGreaterThan(dataset.guests.length);
    },
  );
});

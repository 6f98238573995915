import { describe, expect, it } from 'vitest';
import { classify } from '../../src/pve/errors.js';

describe('classify', () => {
  it('reads the kinds PVE gives in texts of its own', () => {
    // RPCEnvironment.pm check_pool_exist: a missing pool is a 403.
    expect(classify(403, "Permission check failed (pool 'web' does not exist)")).toBe('not_found');
    expect(classify(403, 'Permission check failed (/vms/100, VM.PowerMgmt)')).toBe('permission');
    // qemu-server's digest mismatch, and pve-container's.
    expect(classify(500, 'checksum mismatch (file change by other user?)')).toBe('conflict');
    expect(
      classify(500, 'detected modified configuration - file changed by other user? Try again.'),
    ).toBe('conflict');
    expect(classify(500, "can't overwrite running container")).toBe('running');
    expect(classify(500, "can't migrate running container without --online or --restart")).toBe(
      'running',
    );
    expect(classify(500, 'CT 200 not running')).toBe('not_running');
  });
});

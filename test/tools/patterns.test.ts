/** Name patterns: `*` and `?` matched without a regular expression built from the user's text. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { namePattern } from '../../src/tools/common.js';
import { startHarness } from '../helpers/mcp.js';

/** A plain recursive matcher, slow but obviously right, for short strings. */
function reference(p: string, s: string): boolean {
  if (!p.length) return !s.length;
  if (p[0] === '*') return reference(p.slice(1), s) || (s.length > 0 && reference(p, s.slice(1)));
  return s.length > 0 && (p[0] === '?' || p[0] === s[0]) && reference(p.slice(1), s.slice(1));
}

describe('name patterns', () => {
  it('match as * and ? say, case-insensitively', () => {
    const match = (p: string, s: string) => namePattern(p)?.(s);
    expect(match('web-*', 'WEB-01')).toBe(true);
    expect(match('*-0?', 'db-01')).toBe(true);
    expect(match('*-0?', 'db-011')).toBe(false);
    expect(match('w*b*1', 'web-01')).toBe(true);
    expect(match('a*a', 'a')).toBe(false);
    expect(match('web', 'my-web-01')).toBe(true);
  });

  it('agree with a plain matcher on any short pattern and name', () => {
    const text = (chars: string[]) => fc.array(fc.constantFrom(...chars), { maxLength: 9 });
    fc.assert(
      fc.property(text(['a', 'b', '*', '?']), text(['a', 'b']), (p, s) => {
        const pattern = p.join('');
        const name = s.join('');
        if (!/[*?]/.test(pattern)) return;
        expect(namePattern(pattern)?.(name)).toBe(reference(pattern, name));
      }),
      { numRuns: 3_000 },
    );
  });

  it('answer a 40-star pattern through a tool', async () => {
    const h = await startHarness({ sim: { dataset: 'large' } });
    try {
      const r = await h.call('proxmox_list_vms', { name: `${'*a'.repeat(40)}!` });
      expect(r.isError, r.text).toBeFalsy();
      expect(r.structured?.total).toBe(0);
    } finally {
      await h.close();
    }
  });
});

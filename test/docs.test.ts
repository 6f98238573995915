import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { README, renderReadme, settings } from '../scripts/docs.js';
import { SETTINGS } from '../src/config/settings.js';

describe('the README', () => {
  it('opens with the two set-up commands', () => {
    const text = readFileSync(README, 'utf8');
    const block = /```sh\n([\s\S]*?)```/.exec(text)?.[1] ?? '';
    expect(block).toMatch(/^npm install && npm start/m);
    expect(block).toMatch(/^npm install && npm test/m);
  });

  it('has the tool table the registry generates (npm run docs)', () => {
    const text = readFileSync(README, 'utf8');
    expect(text).toBe(renderReadme(text));
  });

  it('has every setting of the configuration schema in the settings table, and no other', () => {
    expect(
      settings()
        .map((s) => s.path)
        .sort(),
    ).toEqual(SETTINGS.map((s) => s.path).sort());
  });
});

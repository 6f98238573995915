import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { README, renderReadme, SETTING_DOCS, settings } from '../scripts/docs.js';

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

  it('documents every setting of the configuration schema, and no other', () => {
    expect(
      settings()
        .map((s) => s.path)
        .sort(),
    ).toEqual(Object.keys(SETTING_DOCS).sort());
  });
});

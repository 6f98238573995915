import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { describe, expect, it } from 'vitest';
import { flagsOf, OPTIONS } from '../../src/config/flags.js';
import { gatherConfig } from '../../src/config/raw.js';
import { SETTINGS, type Setting } from '../../src/config/settings.js';

/** A text a variable or flag could give, and the value it should become. */
function sample(s: Setting): [text: string, value: unknown] {
  if (s.type === 'boolean') return ['true', true];
  if (s.type === 'list') return ['a, b', ['a', 'b']];
  if (s.type === 'port') return ['4321', 4321];
  if (s.path === 'clusters[].url')
    return ['https://pve.test:8006/api2/json', 'https://pve.test:8006'];
  return ['some-value', 'some-value'];
}

/** The setting's value in what was gathered (a cluster setting from the first cluster). */
function at(raw: Record<string, unknown>, path: string): unknown {
  let here: unknown = raw;
  for (const key of path.replace('clusters[]', 'clusters.0').split('.'))
    here = (here as Record<string, unknown> | undefined)?.[key];
  return here;
}

const dir = mkdtempSync(join(tmpdir(), 'pmcp-settings-'));

describe('the settings table', () => {
  it.each(SETTINGS.filter((s) => s.env).map((s) => [s.env, s] as const))('reaches %s', (env, s) => {
    const [text, value] = sample(s);
    expect(at(gatherConfig({ env: { [env as string]: text } }).raw, s.path)).toEqual(value);
    if (!s.secret) return;
    const file = join(dir, `${env}.txt`);
    writeFileSync(file, `${text}\n`);
    expect(at(gatherConfig({ env: { [`${env}_FILE`]: file } }).raw, s.path)).toEqual(value);
  });

  it.each(SETTINGS.filter((s) => s.flag).map((s) => [`--${s.flag}`, s] as const))(
    'reaches %s',
    (flag, s) => {
      const [text, value] = sample(s);
      const args = s.type === 'boolean' ? [flag] : [flag, text];
      const { values } = parseArgs({ args, options: OPTIONS, strict: true });
      expect(at(gatherConfig({ env: {}, flags: flagsOf(values) }).raw, s.path)).toEqual(value);
      if (!s.fileFlag) return;
      const file = join(dir, `${s.fileFlag}.txt`);
      writeFileSync(file, `${text}\n`);
      const fromFile = parseArgs({ args: [`--${s.fileFlag}`, file], options: OPTIONS });
      expect(at(gatherConfig({ env: {}, flags: flagsOf(fromFile.values) }).raw, s.path)).toEqual(
        value,
      );
    },
  );

  it('lets a flag win over a variable, and a variable over the config file', () => {
    const file = join(dir, 'config.yaml');
    writeFileSync(
      file,
      'logLevel: error\nreadOnly: false\nurl: https://file.test:8006\napiToken: a@pam!b=c\n',
    );
    const { values } = parseArgs({ args: ['--log-level', 'debug'], options: OPTIONS });
    const { raw } = gatherConfig({
      env: {
        PROXMOX_LOG_LEVEL: 'warn',
        PROXMOX_READ_ONLY: '1',
        PROXMOX_URL: 'https://env.test:8006',
      },
      flags: { ...flagsOf(values), config: file },
    });
    expect(raw.logLevel).toBe('debug');
    expect(raw.readOnly).toBe(true);
    expect(at(raw, 'clusters[].url')).toBe('https://env.test:8006');
  });
});

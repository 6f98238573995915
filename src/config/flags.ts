/** The command-line flags, made from the settings table; shared by the server and `doctor`. */
import type { ConfigFlags } from './raw.js';
import { COMMAND_FLAGS, flagKey, SETTINGS } from './settings.js';

type Option = { type: 'string' | 'boolean'; short?: string };

export const OPTIONS: Record<string, Option> = Object.fromEntries([
  ...Object.entries(COMMAND_FLAGS).map(([name, f]): [string, Option] => [
    name,
    'short' in f ? { type: f.type, short: f.short } : { type: f.type },
  ]),
  ...SETTINGS.flatMap((s): [string, Option][] => [
    ...(s.flag
      ? [[s.flag, { type: s.type === 'boolean' ? 'boolean' : 'string' }] as [string, Option]]
      : []),
    ...(s.fileFlag ? [[s.fileFlag, { type: 'string' }] as [string, Option]] : []),
  ]),
]);

/** Parsed flag values, keyed as settings read them (`read-only` as `readOnly`). */
export function flagsOf(
  values: Record<string, string | boolean | (string | boolean)[] | undefined>,
): ConfigFlags {
  return Object.fromEntries(
    Object.entries(values).map(([name, value]) => [
      flagKey(name),
      Array.isArray(value) ? value.at(-1) : value,
    ]),
  );
}

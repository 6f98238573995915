/**
 * Text that comes from the cluster (guest names, descriptions, notes, tags, task logs, agent
 * output) is data, not instructions: control and invisible characters are removed, and long
 * fields are cut, before anything reaches the model.
 */

// C0/C1 controls (but tab and newline), soft hyphen, Arabic letter mark, Hangul fillers, Khmer
// vowels, Mongolian selectors, zero-width and bidi marks, word joiners and invisible operators,
// variation selectors, BOM, interlinear annotations, and Unicode tag characters.
const INVISIBLE: [number, number][] = [
  [0x00, 0x08],
  [0x0b, 0x1f],
  [0x7f, 0x9f],
  [0xad, 0xad],
  [0x61c, 0x61c],
  [0x115f, 0x1160],
  [0x17b4, 0x17b5],
  [0x180b, 0x180f],
  [0x200b, 0x200f],
  [0x202a, 0x202e],
  [0x2060, 0x206f],
  [0x3164, 0x3164],
  [0xfe00, 0xfe0f],
  [0xfeff, 0xfeff],
  [0xffa0, 0xffa0],
  [0xfff9, 0xfffb],
  [0xe0000, 0xe007f],
];
const invisible = (cp: number) => INVISIBLE.some(([a, b]) => cp >= a && cp <= b);
// A quick test lets clean text (the usual case) through without a character walk.
const ANY_SUSPECT = /[^\t\n\x20-\x7e\xa0-\xac\xae-\u060b\u060d-\u115e]/u;

/** Longest string field passed on in structured content. */
export const MAX_FIELD = 8_192;
/** Longest line of the text a tool returns. */
export const MAX_LINE = 2_000;

export function stripInvisible(text: string): string {
  if (!ANY_SUSPECT.test(text)) return text;
  let out = '';
  for (const ch of text) if (!invisible(ch.codePointAt(0) ?? 0)) out += ch;
  return out;
}

function cap(text: string, max: number): string {
  return text.length <= max
    ? text
    : `${text.slice(0, max)}… [${text.length - max} more characters cut]`;
}

/** Cleans the text of a result: invisible characters out, each line capped. */
export function cleanText(text: string, transform: (s: string) => string = (s) => s): string {
  return transform(stripInvisible(text))
    .split('\n')
    .map((line) => cap(line, MAX_LINE))
    .join('\n');
}

/** Cleans every string inside a value (structured content), capping each field. */
export function cleanDeep<T>(value: T, transform: (s: string) => string = (s) => s): T {
  if (typeof value === 'string') return cap(transform(stripInvisible(value)), MAX_FIELD) as T;
  if (Array.isArray(value)) return value.map((v) => cleanDeep(v, transform)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, cleanDeep(v, transform)]),
    ) as T;
  }
  return value;
}

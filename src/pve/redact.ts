/**
 * Keeps credentials out of everything the client lets out: error messages, logs, thrown errors.
 * Known secrets are replaced wherever they appear; credential-shaped text is masked too.
 */
const MASK = '***';

const PATTERNS: [RegExp, string][] = [
  // Authorization: PVEAPIToken=user@realm!tokenid=secret
  [/(PVEAPIToken[= ][^=\s]+=)\S+/g, `$1${MASK}`],
  // Tickets: PVE:user@realm:HEXTIME::signature, also inside cookies
  [/(PVE:[^:\s]+:[0-9A-F]{8}::)[^\s;"']+/g, `$1${MASK}`],
  [/(PVEAuthCookie=)[^\s;"']+/g, `$1${MASK}`],
  // CSRF tokens: HEXTIME:signature
  [/(CSRFPreventionToken["']?\s*[:=]\s*["']?)[^\s;"',}]+/gi, `$1${MASK}`],
  [/(password["']?\s*[:=]\s*["']?)[^\s&;"',}]+/gi, `$1${MASK}`],
];

// Every pattern above needs one of these words: text without them (most) skips the patterns.
const TRIGGER = /PVEAPIToken|PVE:|PVEAuthCookie|CSRFPreventionToken|password/i;

export class Redactor {
  private readonly secrets = new Set<string>();

  /** Registers a secret; short values are not masked on their own (too likely to match text). */
  add(...values: (string | undefined)[]): void {
    for (const v of values) if (v && v.length >= 6) this.secrets.add(v);
  }

  redact(text: string): string {
    let out = text;
    for (const secret of this.secrets) if (out.includes(secret)) out = out.split(secret).join(MASK);
    if (!TRIGGER.test(out)) return out;
    for (const [re, replacement] of PATTERNS) out = out.replace(re, replacement);
    return out;
  }
}

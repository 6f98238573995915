/**
 * Task ids (UPIDs), as pve-common's UPID.pm writes and reads them:
 * `UPID:node:PID:PSTART:STARTTIME:type:id:user:`, the numbers as 8 upper-case hex digits.
 */

export interface Upid {
  upid: string;
  node: string;
  pid: number;
  pstart: number;
  /** Epoch seconds. */
  starttime: number;
  type: string;
  id: string;
  /** `user@realm`; a token's id is in `tokenid`. */
  user: string;
  tokenid?: string;
}

const UPID_RE =
  /^UPID:([a-zA-Z0-9][a-zA-Z0-9.-]*):([0-9A-F]{8}):([0-9A-F]{8,9}):([0-9A-F]{8}):([^:\s]+):([^:\s]*):([^:\s]+):$/;

/** Splits a UPID, or returns undefined when the text is not one. */
export function parseUpid(upid: string): Upid | undefined {
  const m = UPID_RE.exec(upid);
  if (!m) return undefined;
  const [user = '', tokenid] = (m[7] as string).split('!');
  return {
    upid,
    node: m[1] as string,
    pid: Number.parseInt(m[2] as string, 16),
    pstart: Number.parseInt(m[3] as string, 16),
    starttime: Number.parseInt(m[4] as string, 16),
    type: m[5] as string,
    id: m[6] as string,
    user,
    ...(tokenid ? { tokenid } : {}),
  };
}

const hex8 = (n: number) => (n >>> 0).toString(16).toUpperCase().padStart(8, '0');

/** Writes a UPID; `user` includes `!tokenid` for tasks started with a token. */
export function formatUpid(t: {
  node: string;
  pid: number;
  pstart: number;
  starttime: number;
  type: string;
  id: string;
  user: string;
}): string {
  return `UPID:${t.node}:${hex8(t.pid)}:${hex8(t.pstart)}:${hex8(t.starttime)}:${t.type}:${t.id}:${t.user}:`;
}

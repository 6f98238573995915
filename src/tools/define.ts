/**
 * How a tool is defined: a small object with a name, a factual description, zod input and output
 * schemas, an access class, and a handler. Tool files never import the MCP SDK; the server turns
 * these into registered tools (src/server/).
 */
import type { z } from 'zod';
import type { PveApi } from '../pve/index.js';
import type { Toolset } from './toolsets.js';

/** What a tool may do; the MCP annotations derive from it. */
export type Access = 'read' | 'write' | 'destructive';

/** What a call names: guests (existing, or the ID a new one takes), nodes, volumes, a task. */
export interface ToolTargets {
  guests?: (number | undefined)[];
  nodes?: (string | undefined)[];
  /** The pool a new guest joins. */
  pools?: (string | undefined)[];
  /** Guests only read (a clone's source): scope applies, protection does not. */
  sources?: (number | undefined)[];
  /** Volume ids: the guests owning them are targets too. */
  volumes?: string[];
  upid?: string;
  /** The guests are chosen as the call runs; each is checked on the wire then. */
  selected?: true;
  /** A request spelled out by the caller, resolved through the API contract. */
  request?: { method: string; path: string; params?: Record<string, unknown> };
  /** The caller overrides the firewall's lock-out check; a human must confirm what it cuts. */
  lockout?: boolean;
}

/** The usual targets: a guest by `vmid`, a new one by `newid`, its node, a target node, a pool. */
export const guestTargets = (a: {
  vmid?: number;
  newid?: number;
  node?: string;
  target?: string;
  pool?: string;
}): ToolTargets => ({ guests: [a.vmid, a.newid], nodes: [a.node, a.target], pools: [a.pool] });

/** How far a call got: `done` of `total`. */
export interface Progress {
  done: number;
  total: number;
}

export interface ToolContext {
  pve: PveApi;
  /** The cluster's configured name. */
  cluster: string;
  signal: AbortSignal;
  /**
   * Reports progress of a long call to the client, when it asked for it; `of` when how far it got
   * is known (guests done of guests chosen, a task's percentage).
   */
  progress(message: string, of?: Progress): Promise<void>;
  /**
   * Throws when policy forbids changing this guest (protected, out of scope): for tools that act
   * on many guests, whose targets are not known before they run.
   */
  guard(guest: { vmid: number; node?: string; pool?: string; tags?: string | string[] }): void;
}

/** A picture beside an answer's text (a chart): base64 PNG. */
export interface ToolImage {
  data: string;
  mimeType: 'image/png';
}

export type ToolResult<O> =
  | { isError?: false; data: O; text: string; images?: ToolImage[] }
  | { isError: true; text: string; data?: Record<string, unknown> };

export interface ToolDef<I extends z.ZodObject = z.ZodObject, O extends z.ZodObject = z.ZodObject> {
  name: string;
  title: string;
  /** What the tool does, what it needs, what it returns. Read by models: factual, no instructions. */
  description: string;
  toolset: Toolset;
  access: Access;
  /** Repeating the call with the same arguments changes nothing more (for writes). */
  idempotent?: boolean;
  /**
   * What a changing call acts on, as its arguments name it: checked before anything is read or
   * planned, for a refusal that names the guest. Every request it then makes is checked again on
   * the wire; every changing tool declares this.
   */
  targets?: (args: z.output<I>) => ToolTargets;
  /**
   * The tool sends requests the caller spelled out (the raw API tool): every change it makes
   * needs a human's yes, whatever its effect.
   */
  raw?: true;
  /** Its answer in a dry run is a plan worth showing (what it would do to each guest). */
  plans?: true;
  /**
   * An MCP App (ext-apps) shows its answer: one self-contained HTML page served as a `ui://`
   * resource, which gets its data by calling tools through the host, never with credentials.
   */
  app?: { uri: string; title: string; html: () => string };
  input: I;
  output: O;
  run(args: z.output<I>, ctx: ToolContext): Promise<ToolResult<z.output<O>>>;
}

/** Identity, for type inference: `defineTool({...})` checks the handler against the schemas. */
export function defineTool<I extends z.ZodObject, O extends z.ZodObject>(
  def: ToolDef<I, O>,
): ToolDef<I, O> {
  return def;
}

/** A tool of any schema, as the registry holds them. */
// biome-ignore lint/suspicious/noExplicitAny: the registry stores tools of every schema
export type AnyTool = ToolDef<any, any>;

/**
 * The MCP annotations, with what the spec's defaults already say left out: a read tool is only
 * read-only (the other hints are meaningless then), a change is not destructive unless marked.
 */
export function annotations(tool: Pick<AnyTool, 'access' | 'idempotent'>) {
  // The tools act on one configured cluster, a closed world (the default is open).
  if (tool.access === 'read') return { readOnlyHint: true, openWorldHint: false };
  return {
    destructiveHint: tool.access === 'destructive',
    ...(tool.idempotent ? { idempotentHint: true } : {}),
    openWorldHint: false,
  };
}

export const ok = <O>(data: O, text: string): ToolResult<O> => ({ data, text });
export const failure = (text: string, data?: Record<string, unknown>): ToolResult<never> => ({
  isError: true,
  text,
  data,
});

/**
 * How a tool is defined: a small object with a name, a factual description, zod input and output
 * schemas, an access class, and a handler. Tool files never import the MCP SDK; the server turns
 * these into registered tools (src/server/).
 */
import type { z } from 'zod';
import type { Toolset } from '../config/schema.js';
import type { PveApi } from '../pve/index.js';

/** What a tool may do; the MCP annotations derive from it. */
export type Access = 'read' | 'write' | 'destructive';

export interface ToolContext {
  pve: PveApi;
  /** The cluster's configured name. */
  cluster: string;
  signal: AbortSignal;
  /** Reports progress of a long call to the client, when it asked for it. */
  progress(message: string): Promise<void>;
  /**
   * Throws when policy forbids changing this guest (protected, out of scope): for tools that act
   * on many guests, whose targets are not known before they run.
   */
  guard(guest: { vmid: number; node?: string; pool?: string; tags?: string | string[] }): void;
}

export type ToolResult<O> =
  | { isError?: false; data: O; text: string }
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
  /** The tool makes a new guest: its vmid argument names the new one, not an existing target. */
  createsGuest?: true;
  /** When only some calls of a destructive-class tool destroy something (restore over a guest). */
  destructiveIf?: (args: Record<string, unknown>) => boolean;
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

export function annotations(tool: Pick<AnyTool, 'access' | 'idempotent' | 'title'>) {
  return {
    title: tool.title,
    readOnlyHint: tool.access === 'read',
    destructiveHint: tool.access === 'destructive',
    idempotentHint: tool.access === 'read' || tool.idempotent === true,
    // The tools act on one configured cluster, a closed world.
    openWorldHint: false,
  };
}

export const ok = <O>(data: O, text: string): ToolResult<O> => ({ data, text });
export const failure = (text: string, data?: Record<string, unknown>): ToolResult<never> => ({
  isError: true,
  text,
  data,
});

/**
 * The `api` toolset: any operation of the committed API contract, by method and path, with its
 * parameters checked against the contract before anything is sent.
 */
import { z } from 'zod';
import { type AnyTool, defineTool, ok } from './define.js';

const apiRequest = defineTool({
  name: 'proxmox_api_request',
  title: 'Proxmox API request',
  description:
    "Calls one operation of the Proxmox VE API by method and path below /api2/json (e.g. GET /nodes/pve1/qemu/100/pending). Only operations of the server's API contract are allowed; parameters are checked against it first. Returns the answer's data as JSON.",
  toolset: 'api',
  access: 'destructive',
  raw: true,
  targets: (a) => ({ request: a }),
  input: z.object({
    method: z.enum(['GET', 'POST', 'PUT', 'DELETE']),
    path: z.string().regex(/^\/[\w@!.:%\-/{}]*$/, 'a path below /api2/json, starting with /'),
    params: z
      .record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.array(z.string())]))
      .optional(),
  }),
  output: z.object({ method: z.string(), path: z.string(), data: z.unknown() }),
  async run(args, ctx) {
    const data = await ctx.pve.client.request(args.method, args.path, args.params ?? {}, {
      signal: ctx.signal,
    });
    const json = JSON.stringify(data);
    // The raw answer is for the model to read; keep a runaway listing from flooding it.
    const text =
      json.length > 20_000
        ? `${json.slice(0, 20_000)}… (${json.length} characters; the full answer is in the structured content)`
        : json;
    return ok({ method: args.method, path: args.path, data }, text);
  },
});

export const apiTools: AnyTool[] = [apiRequest];

/**
 * Tools this server does not offer, told as such: a call of one, and an answer that names one as
 * the next step, say why it is missing (its toolset, excludeTools, read-only) and how an operator
 * adds it. The whole catalogue is loaded only when such a name comes up.
 */
import { type McpServer, ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/server';
import type { Config } from '../config/schema.js';
import type { AnyTool } from '../tools/define.js';
import { allTools } from '../tools/registry.js';
import { TOOLSETS } from '../tools/toolsets.js';

export class Offer {
  private catalogue?: Promise<Map<string, AnyTool>>;

  constructor(
    private readonly config: Config,
    private readonly offered: ReadonlySet<string>,
    /** Every cluster is read-only: changing tools are not offered. */
    private readonly readOnly: boolean,
  ) {}

  has(name: string): boolean {
    return this.offered.has(name);
  }

  /** Why a tool is not offered here, and how to get it; undefined when it is. */
  async why(name: string): Promise<string | undefined> {
    if (this.offered.has(name)) return undefined;
    this.catalogue ??= allTools().then((tools) => new Map(tools.map((t) => [t.name, t])));
    const tool = (await this.catalogue).get(name);
    if (!tool)
      return `There is no tool named ${name}; tools/list shows the tools this server offers.`;
    if (this.config.excludeTools.includes(name))
      return `${name} is removed by this server's excludeTools setting (PROXMOX_EXCLUDE_TOOLS).`;
    if (this.readOnly && tool.access !== 'read')
      return `${name} changes things, and this server is read-only (readOnly).`;
    const sets = this.config.toolsets.includes('all') ? TOOLSETS : this.config.toolsets;
    const wanted = [...sets, tool.toolset].join(',');
    return `${name} is in the ${tool.toolset} toolset, which this server does not offer: the operator adds it with toolsets (PROXMOX_TOOLSETS=${wanted} or --toolsets ${wanted}) and restarts the server.`;
  }

  /** An answer's text with a note for each tool it names that is not offered here. */
  async annotate(text: string): Promise<string> {
    const names = new Set(text.match(/\bproxmox_[a-z_]+\b/g) ?? []);
    const notes: string[] = [];
    for (const name of names) {
      const why = await this.why(name);
      // Only tools that exist: a word like a tool's name is not a next step.
      if (why && !why.startsWith('There is no tool')) notes.push(why);
    }
    return notes.length ? `${text}\n${notes.join('\n')}` : text;
  }
}

type Handler = (request: { params?: { name?: unknown } }, ctx: unknown) => Promise<unknown>;

/**
 * A call of a tool not offered gets the reason, not the SDK's bare "Tool X not found": the SDK's
 * own tools/call handler is wrapped where it is stored, so every other call goes through it as is.
 * (Setting a handler anew would wrap it a second time, and the SDK has no hook for unknown tools.)
 */
export function explainUnknownTools(server: McpServer, offer: Offer): void {
  const handlers = (server.server as unknown as { _requestHandlers?: Map<string, Handler> })
    ._requestHandlers;
  const sdk = handlers?.get('tools/call');
  if (!handlers || !sdk) return;
  handlers.set('tools/call', async (request, ctx) => {
    const name = request.params?.name;
    if (typeof name === 'string' && !offer.has(name)) {
      const why = await offer.why(name);
      if (why) throw new ProtocolError(ProtocolErrorCode.InvalidParams, why);
    }
    return sdk(request, ctx);
  });
}

/**
 * MCP Apps (the `io.modelcontextprotocol/ui` extension): a tool that declares an app links to its
 * `ui://` resource in `_meta.ui`, and the resource serves the page as `text/html;profile=mcp-app`.
 * Clients without the extension ignore both and read the tool's text.
 */
import {
  RESOURCE_MIME_TYPE,
  RESOURCE_URI_META_KEY,
  registerAppResource,
} from '@modelcontextprotocol/ext-apps/server';
import type { McpServer } from '@modelcontextprotocol/server';
import type { AnyTool } from '../tools/define.js';

/** The `_meta` of a tool with an app: the current key and the one older hosts read. */
export function appToolMeta(tool: AnyTool): Record<string, unknown> | undefined {
  if (!tool.app) return undefined;
  return { ui: { resourceUri: tool.app.uri }, [RESOURCE_URI_META_KEY]: tool.app.uri };
}

/**
 * The pages need no origin at all: empty CSP lists ask the host for no network, and the page's
 * own policy (its meta tag) allows only its inline code.
 */
const UI_META = { ui: { csp: { connectDomains: [], resourceDomains: [] }, prefersBorder: true } };

/** Registers the page of each offered tool that has one. */
export function registerApps(server: McpServer, tools: AnyTool[]): void {
  for (const tool of tools) {
    const app = tool.app;
    if (!app) continue;
    registerAppResource(
      server,
      app.title,
      app.uri,
      { description: `The MCP App view of ${tool.name}`, _meta: UI_META },
      async () => ({
        contents: [
          { uri: app.uri, mimeType: RESOURCE_MIME_TYPE, text: app.html(), _meta: UI_META },
        ],
      }),
    );
  }
}

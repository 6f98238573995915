/** MCP over stdio, through the SDK's entry, which owns the protocol era of the connection. */
import type { McpServer } from '@modelcontextprotocol/server';
import { serveStdio as serve } from '@modelcontextprotocol/server/stdio';

export interface StdioHandle {
  /** Settles when the client closes its end (stdin ends). */
  done: Promise<void>;
  close(): Promise<void>;
}

export function serveStdio(factory: () => McpServer, onerror: (err: Error) => void): StdioHandle {
  const handle = serve(factory, { onerror });
  const done = new Promise<void>((resolve) => {
    process.stdin.once('end', resolve);
    process.stdin.once('close', resolve);
  });
  return {
    done,
    async close() {
      await handle.close();
      // Reading stdin would keep the process alive.
      process.stdin.destroy();
    },
  };
}

/**
 * The whole API contract: the operations the product calls (core.ts) and the rest of the official
 * schema, with the router that finds an operation for a method and a concrete path. It loads only
 * where a request is built at run time (the raw API tool, search) and in the simulator.
 */
import { core } from './core.js';
import { rest } from './data-rest.js';
import { decodeContract } from './decode.js';
import type { Contract, ContractOperation, HttpMethod } from './types.js';

export type * from './types.js';
export { decodeContract };

export const contract: Contract = {
  ...core,
  operations: [...core.operations, ...decodeContract(rest).operations],
};

interface CompiledRoute {
  segments: string[];
  template: string;
  /** Segments that are not parameters: the route with more of them wins. */
  literals: number;
  /** A final `{volume}` takes the rest of the path: volume ids contain slashes. */
  greedyTail: boolean;
  operations: Map<HttpMethod, ContractOperation>;
}

const GREEDY_PARAMS = new Set(['volume']);

const routes: CompiledRoute[] = [];
let routeByPath = new Map<string, CompiledRoute>();
{
  const byPath = new Map<string, CompiledRoute>();
  for (const op of contract.operations) {
    let route = byPath.get(op.path);
    if (!route) {
      const segments = op.path.split('/').filter(Boolean);
      const last = segments[segments.length - 1] ?? '';
      route = {
        segments,
        template: `/${segments.join('/')}`,
        literals: segments.filter((s) => !s.startsWith('{')).length,
        greedyTail: GREEDY_PARAMS.has(last.slice(1, -1)),
        operations: new Map(),
      };
      byPath.set(op.path, route);
      routes.push(route);
    }
    route.operations.set(op.method, op);
  }
  routeByPath = byPath;
}
// Routes by their number of segments, so a path is matched against the few that can fit it.
const bySize = new Map<number, CompiledRoute[]>();
for (const route of routes) {
  const size = route.greedyTail ? -1 : route.segments.length;
  bySize.set(size, [...(bySize.get(size) ?? []), route]);
}

export interface RouteMatch {
  /** The operation, if the path exists and has this method. */
  operation?: ContractOperation;
  /** The path template that matched. */
  template: string;
  params: Record<string, string>;
}

/** Splits a request path (below /api2/json) into decoded segments; undefined if malformed. */
export function splitPath(path: string): string[] | undefined {
  try {
    return path
      .split('/')
      .filter(Boolean)
      .map((s) => decodeURIComponent(s));
  } catch {
    return undefined;
  }
}

function matchRoute(route: CompiledRoute, parts: string[]): Record<string, string> | undefined {
  const { segments, greedyTail } = route;
  if (greedyTail ? parts.length < segments.length : parts.length !== segments.length) {
    return undefined;
  }
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i] as string;
    const part = parts[i] as string;
    if (seg.startsWith('{')) {
      const isTail = greedyTail && i === segments.length - 1;
      params[seg.slice(1, -1)] = isTail ? parts.slice(i).join('/') : part;
    } else if (seg !== part) {
      return undefined;
    }
  }
  return params;
}

/**
 * Finds the contract operation for a method and a path below /api2/json. Literal segments win over
 * parameters, as in PVE (`/nodes/{node}/qemu/{vmid}/status/current` before `{vmid}` captures).
 */
export function matchOperation(method: string, path: string): RouteMatch | undefined {
  const parts = splitPath(path);
  if (!parts) return undefined;
  let best: { route: CompiledRoute; params: Record<string, string> } | undefined;
  for (const route of [...(bySize.get(parts.length) ?? []), ...(bySize.get(-1) ?? [])]) {
    const params = matchRoute(route, parts);
    if (!params) continue;
    if (!best || route.literals > best.route.literals) best = { route, params };
  }
  if (!best) return undefined;
  const { template } = best.route;
  const operation = best.route.operations.get(method as HttpMethod);
  return operation
    ? { operation, template, params: best.params }
    : { template, params: best.params };
}

/** The operation with this method and path template, or undefined. */
export function getOperation(method: HttpMethod, template: string): ContractOperation | undefined {
  return routeByPath.get(template)?.operations.get(method);
}

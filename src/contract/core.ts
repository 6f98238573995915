/**
 * The operations the product's own code calls (typed in api-types.ts): all a dedicated tool's
 * request needs, without loading the whole API.
 */
import { data } from './data.js';
import { decodeContract } from './decode.js';
import type { ContractOperation, HttpMethod } from './types.js';

export const core = decodeContract(data);

const byKey = new Map(core.operations.map((op) => [`${op.method} ${op.path}`, op]));

/** A core operation by method and path template, or undefined. */
export const getCoreOperation = (
  method: HttpMethod,
  template: string,
): ContractOperation | undefined => byKey.get(`${method} ${template}`);

import {
  ASYNC_KINDS,
  type Contract,
  type ContractData,
  type ContractOperation,
  FLAG,
  type HttpMethod,
} from './types.js';

/** The contract as code reads it, from its committed form. */
export function decodeContract(d: ContractData): Contract {
  const operations = d.operations.map(
    ([
      key,
      name,
      summary,
      params,
      returns,
      flags,
      versions,
      async,
      permissions,
    ]): ContractOperation => {
      const [method, path] = key.split(' ') as [HttpMethod, string];
      const op: ContractOperation = {
        method,
        path,
        name,
        summary,
        params: Object.fromEntries(
          Object.entries(params).map(([p, i]) => [
            p,
            d.params[i] as ContractOperation['params'][string],
          ]),
        ),
        additionalProperties: Boolean(flags & FLAG.additionalProperties),
        allowtoken: !(flags & FLAG.noToken),
        returns: d.returns[returns] as ContractOperation['returns'],
        async: ASYNC_KINDS[async] ?? 'sync',
        versions: d.versions.filter((_, i) => versions & (1 << i)),
      };
      if (flags & FLAG.proxyNode) op.proxyto = 'node';
      if (permissions >= 0) op.permissions = d.permissions[permissions];
      if (flags & FLAG.protected) op.protected = true;
      return op;
    },
  );
  return { source: d.source, versions: d.versions, operations };
}

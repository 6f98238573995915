/**
 * Plain-words failures with the next step, from the client's classified errors. A tool result
 * says what happened and what to do; it never carries a stack or raw JSON.
 */
import { kindOf, PveApiError } from '../pve/index.js';
import { ToolError } from './common.js';

function guestFromPath(
  path: string,
): { kind: string; vmid: string; tool: (verb: string) => string } | undefined {
  const m = /\/(qemu|lxc)\/(\d+)/.exec(path);
  if (!m) return undefined;
  const noun = m[1] === 'qemu' ? 'vm' : 'container';
  return {
    kind: kindOf(m[1], true),
    vmid: m[2] as string,
    tool: (verb) => `proxmox_${verb}_${noun}`,
  };
}

/** Where to see what exists, for things a request names that may be missing. */
const LISTS: Record<string, string> = {
  pool: 'List pools with proxmox_list_pools.',
  storage: 'List storages with proxmox_list_storage.',
  bridge: "List a node's bridges with proxmox_list_node_networks.",
  snapshot: 'List snapshots with proxmox_list_snapshots.',
  user: 'List users with proxmox_list_users.',
  backup: 'List backups with proxmox_list_backups.',
  'container template': "proxmox_list_storage_content lists a storage's templates.",
  'ISO image': "proxmox_list_storage_content lists a storage's ISO images.",
  volume: "proxmox_list_storage_content lists a storage's volumes.",
};

/** What a volume is, from its volid (`storage:backup/…`, `storage:vztmpl/…`, `storage:iso/…`). */
const volumeKind = (volid: string) =>
  /^[^:]+:backup\//.test(volid)
    ? 'backup'
    : /^[^:]+:vztmpl\//.test(volid)
      ? 'container template'
      : /^[^:]+:iso\//.test(volid)
        ? 'ISO image'
        : 'volume';

/** Text and data for an error the user can act on; undefined for bugs, which are rethrown. */
export function describeError(
  err: unknown,
  cluster: string,
): { text: string; data?: Record<string, unknown> } | undefined {
  if (err instanceof ToolError) return { text: err.message, data: err.data };
  if (!(err instanceof PveApiError)) return undefined;
  const guest = guestFromPath(err.path);
  const who = guest ? `${guest.kind} ${guest.vmid}` : 'The target';
  const data: Record<string, unknown> = { kind: err.kind, status: err.status };
  let text: string;
  switch (err.kind) {
    case 'not_found': {
      // What PVE says is missing may be something the request names besides the guest (a pool
      // to clone into, a storage, a bridge), not the guest of the path.
      const missing =
        /\b(pool|storage|bridge|snapshot|disk|ipset|alias|group|user|role|realm|volume)\s+'([^']+)'\s+does not exist/i.exec(
          err.message,
        );
      if (missing) {
        const [, said, name] = missing as unknown as [string, string, string];
        const what = said.toLowerCase() === 'volume' ? volumeKind(name) : said.toLowerCase();
        data.missing = { [what]: name };
        const list = LISTS[what];
        text = `The ${what} '${name}' does not exist (${err.message}).${list ? ` ${list}` : ''}`;
        break;
      }
      text = guest
        ? `${who} was not found (${err.message}). It may have been deleted or moved; list guests with proxmox_list_vms or proxmox_list_containers.`
        : `Not found: ${err.message}.`;
      break;
    }
    case 'already_exists':
      // Only a guest's ID is what the guest lists show.
      text = `Already exists: ${err.message}${err.errors ? ` (${Object.values(err.errors).join('; ')})` : ''}. ${/\/(?:qemu|lxc)$|\/clone$/.test(err.path) ? 'Choose another ID or name; proxmox_list_vms shows the ones in use.' : 'Choose another name.'}`;
      break;
    case 'permission':
      data.privilege = err.privilege;
      data.path = err.permissionPath;
      text = err.privilege
        ? `Permission denied: the credentials lack ${err.privilege} on ${err.permissionPath} in cluster '${cluster}'. Grant a role with that privilege on that path (for an API token with privilege separation, to the token as well as its user).`
        : `Permission denied: ${err.message}. proxmox_get_permissions shows what the credentials hold.`;
      break;
    case 'locked':
      data.lock = err.lock;
      text = `${who} is locked (${err.lock ?? 'unknown lock'}): another operation holds it. Wait for it to finish (proxmox_list_tasks shows running tasks) and try again.`;
      break;
    case 'not_running':
      text = `${who} is not running, so this cannot be done now. Start it first${guest ? ` (${guest.tool('start')})` : ''}.`;
      break;
    case 'running':
      text = `${who} is running: ${err.message}. Shut it down or stop it first${guest ? ` (${guest.tool('shutdown')}, ${guest.tool('stop')})` : ''}.`;
      break;
    case 'conflict':
      text = `The configuration changed since it was read (digest mismatch). Read it again${guest ? ` (${guest.tool('get')}_info gives the new digest)` : ''} and repeat the change if it still applies.`;
      break;
    case 'no_node': {
      const node = /^hostname lookup '([^']*)'/.exec(err.message)?.[1] ?? '?';
      data.node = node;
      text = `There is no node named '${node}' in cluster '${cluster}'. List the nodes with proxmox_list_nodes.`;
      break;
    }
    case 'node_offline': {
      // pveproxy forwards /nodes/{node}/… to the node: the path names the one it could not reach.
      const node = /^\/nodes\/([^/]+)/.exec(err.path)?.[1];
      if (node) data.node = decodeURIComponent(node);
      text = `${node ? `Node ${data.node}` : 'The node'} is offline or unreachable (HTTP ${err.status}: ${err.message}). Check it in proxmox_list_nodes; guests on it cannot be managed until it is back.`;
      break;
    }
    case 'auth':
      text = `Authentication with cluster '${cluster}' failed: ${err.message}. Check the API token or user and password (proxmox-mcp doctor checks them).`;
      break;
    case 'tls':
      text = `Cannot connect to cluster '${cluster}' securely: ${err.message}. If the certificate is the cluster's own, pin its fingerprint (PROXMOX_TLS_FINGERPRINT) or trust its CA (PROXMOX_CA_FILE); proxmox-mcp doctor prints the fingerprint it sees.`;
      break;
    case 'bad_request':
      data.errors = err.errors;
      // Refused here, before sending, it is not Proxmox that said no.
      text = `${err.notSent ? 'Not sent' : 'Proxmox rejected the request'}: ${
        err.errors
          ? Object.entries(err.errors)
              .map(([k, v]) => `${k}: ${v}`)
              .join('; ')
          : err.message
      }.${
        err.errors
          ? ` Correct the parameters named and try again${err.notSent ? '; proxmox_api_search shows what each operation takes' : ''}.`
          : /not an operation of/.test(err.message)
            ? ' proxmox_api_search finds operations by words or path.'
            : ''
      }`;
      break;
    case 'transient':
    case 'timeout':
      text = `Cluster '${cluster}' did not answer (${err.message}). Try again; if it persists, check the node and the network.`;
      break;
    default:
      text = `Proxmox refused: ${err.message}. ${guest ? `${guest.tool('get')}_status and ${guest.tool('get')}_info show ${who}'s state and configuration.` : 'The list tools show what exists; check what the request names.'}`;
  }
  return { text, data };
}

/**
 * core/v1 nodes: cluster-scoped, status written by the kubelet (kept on spec updates),
 * `spec.unschedulable` selectable, and the `kubectl get nodes` table.
 */
import { defaultNode } from '../../../../api/defaulting/core.js';
import { validateNode, validateNodeUpdate } from '../../../../api/validation/core.js';
import type { KObject, Strategy } from '../../generic/strategy.js';
import { age, ageColumn, boolField, col, keepStatus, nameColumn, statusStrategy } from '../../strategy-helpers.js';

const arr = (v: unknown): any[] => (Array.isArray(v) ? v : []);

/** Roles from `node-role.kubernetes.io/<role>` and `kubernetes.io/role` labels, sorted. */
export function nodeRoles(node: KObject): string[] {
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(node.metadata?.labels ?? {})) {
    if (k.startsWith('node-role.kubernetes.io/')) {
      const r = k.slice('node-role.kubernetes.io/'.length);
      if (r) roles.add(r);
    } else if (k === 'kubernetes.io/role' && v) {
      roles.add(String(v));
    }
  }
  return [...roles].sort();
}

/** The Status cell: `Ready`, `NotReady`, `Unknown`, plus `,SchedulingDisabled`. */
export function nodeStatus(node: KObject): string {
  const status: string[] = [];
  const ready = arr(node.status?.conditions).find((c) => c?.type === 'Ready');
  if (ready) status.push(ready.status === 'True' ? 'Ready' : 'NotReady');
  else status.push('Unknown');
  if (node.spec?.unschedulable) status.push('SchedulingDisabled');
  return status.join(',');
}

function address(node: KObject, type: string): string {
  return arr(node.status?.addresses).find((a) => a?.type === type)?.address ?? '<none>';
}

/** The nodes strategy. */
export function nodeStrategy(): Strategy {
  return {
    info: { group: '', version: 'v1', resource: 'nodes', singular: 'node', kind: 'Node', namespaced: false, shortNames: ['no'] },
    nameValidation: 'dns-subdomain',
    defaults: (obj) => {
      defaultNode(obj);
    },
    // The kubelet registers nodes with their status, so create keeps it.
    prepareForUpdate: keepStatus,
    validate: validateNode,
    validateUpdate: validateNodeUpdate,
    table: {
      columns: [
        nameColumn(),
        col('Status', 'string', 'The status of the node'),
        col('Roles', 'string', 'The roles of the node'),
        ageColumn(),
        col('Version', 'string', 'Kubelet Version reported by the node.'),
        col('Internal-IP', 'string', 'List of addresses reachable to the node.', 1),
        col('External-IP', 'string', 'List of addresses reachable to the node.', 1),
        col('OS-Image', 'string', 'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).', 1),
        col('Kernel-Version', 'string', "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", 1),
        col('Container-Runtime', 'string', 'ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).', 1),
      ],
      cells: (node, now) => {
        const info = node.status?.nodeInfo ?? {};
        const roles = nodeRoles(node).join(',');
        return [
          node.metadata?.name ?? '',
          nodeStatus(node),
          roles || '<none>',
          age(node, now),
          info.kubeletVersion ?? '',
          address(node, 'InternalIP'),
          address(node, 'ExternalIP'),
          info.osImage || '<unknown>',
          info.kernelVersion || '<unknown>',
          info.containerRuntimeVersion || '<unknown>',
        ];
      },
    },
    selectableFields: (node) => ({ 'spec.unschedulable': boolField(node.spec?.unschedulable) }),
    status: statusStrategy({ validate: (obj, old) => validateNodeUpdate(obj, old) }),
  };
}

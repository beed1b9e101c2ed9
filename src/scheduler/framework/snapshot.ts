/**
 * The node view one scheduling cycle works on (upstream's cache Snapshot): NodeInfos by name, the
 * node list in zone-interleaved order, the nodes hosting pods with affinity, and how many nodes
 * hold each image. The cache keeps one Snapshot up to date; tests build one from objects.
 */
import { NodeInfo } from './node-info.js';
import { podInfoFor } from './pod-info.js';
import { LabelFailureDomainBetaRegion, LabelFailureDomainBetaZone, LabelTopologyRegion, LabelTopologyZone, type Node, type Pod } from './types.js';

/** The zone key upstream's node tree groups nodes by: region and zone labels, new names first. */
export function zoneKey(labels: Record<string, string>): string {
  const region = labels[LabelTopologyRegion] ?? labels[LabelFailureDomainBetaRegion] ?? '';
  const zone = labels[LabelTopologyZone] ?? labels[LabelFailureDomainBetaZone] ?? '';
  return region === '' && zone === '' ? '' : `${region}:\x00:${zone}`;
}

/** NodeInfos for a scheduling cycle. */
export class Snapshot {
  /** Every NodeInfo, including placeholders for nodes only pods refer to. */
  readonly nodeInfoMap: Map<string, NodeInfo>;
  /** NodeInfos with a node object, zones interleaved so the first nodes span zones. */
  nodeInfoList: NodeInfo[] = [];
  havePodsWithAffinityList: NodeInfo[] = [];
  havePodsWithRequiredAntiAffinityList: NodeInfo[] = [];
  /** Image name → number of nodes that have it. */
  imageNodeCounts = new Map<string, number>();

  constructor(nodeInfoMap: Map<string, NodeInfo> = new Map()) {
    this.nodeInfoMap = nodeInfoMap;
  }

  /** A snapshot of these nodes with these pods placed by `spec.nodeName`. */
  static fromObjects(nodes: readonly Node[], pods: readonly Pod[] = []): Snapshot {
    const map = new Map<string, NodeInfo>();
    for (const n of nodes) {
      const name = n.metadata?.name ?? '';
      map.set(name, new NodeInfo(name, n));
    }
    for (const p of pods) {
      const nodeName = p.spec?.nodeName;
      if (!nodeName) continue;
      let ni = map.get(nodeName);
      if (!ni) map.set(nodeName, (ni = new NodeInfo(nodeName)));
      ni.addPod(podInfoFor(p));
    }
    const s = new Snapshot(map);
    s.rebuildNodeList();
    s.rebuildAffinityLists();
    s.rebuildImageCounts();
    return s;
  }

  /** The NodeInfo of a node that exists, or undefined. */
  get(name: string): NodeInfo | undefined {
    const ni = this.nodeInfoMap.get(name);
    return ni && ni.node ? ni : undefined;
  }

  numNodes(): number {
    return this.nodeInfoList.length;
  }

  /** How many nodes have the image. */
  imageNumNodes(name: string): number {
    return this.imageNodeCounts.get(name) ?? 0;
  }

  /** Recompute the node list (after nodes were added or removed). */
  rebuildNodeList(): void {
    const zones = new Map<string, NodeInfo[]>();
    for (const ni of this.nodeInfoMap.values()) {
      if (!ni.node) continue;
      const z = zoneKey(ni.labels);
      let list = zones.get(z);
      if (!list) zones.set(z, (list = []));
      list.push(ni);
    }
    const out: NodeInfo[] = [];
    if (zones.size <= 1) {
      for (const list of zones.values()) out.push(...list);
    } else {
      const lists = [...zones.values()];
      let total = 0;
      for (const l of lists) total += l.length;
      for (let i = 0; out.length < total; i++) {
        for (const l of lists) if (i < l.length) out.push(l[i]);
      }
    }
    this.nodeInfoList = out;
  }

  /** Recompute the lists of nodes hosting pods with (anti-)affinity. */
  rebuildAffinityLists(): void {
    const aff: NodeInfo[] = [];
    const anti: NodeInfo[] = [];
    for (const ni of this.nodeInfoList) {
      if (ni.podsWithAffinity.length) aff.push(ni);
      if (ni.podsWithRequiredAntiAffinity.length) anti.push(ni);
    }
    this.havePodsWithAffinityList = aff;
    this.havePodsWithRequiredAntiAffinityList = anti;
  }

  /** Recompute image → node counts. */
  rebuildImageCounts(): void {
    const counts = new Map<string, number>();
    for (const ni of this.nodeInfoList) for (const name of ni.images.keys()) counts.set(name, (counts.get(name) ?? 0) + 1);
    this.imageNodeCounts = counts;
  }
}

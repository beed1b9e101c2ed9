/**
 * Per-cycle scratch space shared by the plugins of one scheduling attempt (upstream's
 * CycleState): PreFilter writes what Filter reads, PreScore writes what Score reads.
 */

/** Data a plugin stores in the cycle state. Preemption clones the state, so data that AddPod/RemovePod mutate must clone deeply. */
export interface StateData {
  clone(): StateData;
}

/** Key/value storage for one scheduling cycle. */
export class CycleState {
  /** The Filter plugins left after PreFilter skips; the framework fills this once per cycle. */
  activeFilters: readonly unknown[] | null = null;
  private readonly data = new Map<string, StateData>();
  /** Plugins whose PreFilter returned Skip; their Filter is not run. */
  readonly skipFilterPlugins = new Set<string>();
  /** Plugins whose PreScore returned Skip; their Score is not run. */
  readonly skipScorePlugins = new Set<string>();

  write(key: string, value: StateData): void {
    this.data.set(key, value);
  }

  /** The value under `key`, or undefined when the writing plugin did not run. */
  read<T extends StateData>(key: string): T | undefined {
    return this.data.get(key) as T | undefined;
  }

  delete(key: string): void {
    this.data.delete(key);
  }

  /** A copy whose values are cloned, for preemption's what-if evaluation. */
  clone(): CycleState {
    const c = new CycleState();
    for (const [k, v] of this.data) c.data.set(k, v.clone());
    for (const p of this.skipFilterPlugins) c.skipFilterPlugins.add(p);
    for (const p of this.skipScorePlugins) c.skipScorePlugins.add(p);
    c.activeFilters = this.activeFilters;
    return c;
  }
}

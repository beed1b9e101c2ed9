/**
 * A small Prometheus registry: counters, gauges and histograms with labels, rendered in the
 * text exposition format. Small on purpose: start-up and per-request cost matter more than features.
 */

type Labels = Record<string, string>;

function labelKey(names: readonly string[], values: Labels): string {
  return names.map((n) => values[n] ?? '').join('\u0001');
}
function renderLabels(names: readonly string[], key: string, extra?: string): string {
  const vals = key.split('\u0001');
  const parts = names.map((n, i) => `${n}="${(vals[i] ?? '').replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  if (extra) parts.push(extra);
  return parts.length ? `{${parts.join(',')}}` : '';
}

interface Metric {
  render(): string;
}

export class Counter implements Metric {
  private readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[] = [],
  ) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = labelKey(this.labelNames, labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(this.labelNames, labels)) ?? 0;
  }
  render(): string {
    let s = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} counter\n`;
    for (const [k, v] of this.values) s += `${this.name}${renderLabels(this.labelNames, k)} ${v}\n`;
    return s;
  }
}

export class Gauge implements Metric {
  private readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[] = [],
    private readonly collect?: () => number,
  ) {}
  set(v: number, labels: Labels = {}): void {
    this.values.set(labelKey(this.labelNames, labels), v);
  }
  inc(labels: Labels = {}, by = 1): void {
    const k = labelKey(this.labelNames, labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  dec(labels: Labels = {}, by = 1): void {
    this.inc(labels, -by);
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(this.labelNames, labels)) ?? 0;
  }
  render(): string {
    if (this.collect) this.values.set('', this.collect());
    let s = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} gauge\n`;
    for (const [k, v] of this.values) s += `${this.name}${renderLabels(this.labelNames, k)} ${v}\n`;
    return s;
  }
}

/** Default buckets in seconds, as upstream's apiserver_request_duration_seconds uses. */
export const defaultBuckets = [0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60];

export class Histogram implements Metric {
  private readonly series = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[] = [],
    readonly buckets: readonly number[] = defaultBuckets,
  ) {}
  observe(labels: Labels, seconds: number): void {
    const k = labelKey(this.labelNames, labels);
    let s = this.series.get(k);
    if (!s) this.series.set(k, (s = { counts: new Array(this.buckets.length).fill(0), sum: 0, count: 0 }));
    for (let i = 0; i < this.buckets.length; i++) if (seconds <= this.buckets[i]) s.counts[i]++;
    s.sum += seconds;
    s.count++;
  }
  render(): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} histogram\n`;
    for (const [k, s] of this.series) {
      for (let i = 0; i < this.buckets.length; i++) {
        out += `${this.name}_bucket${renderLabels(this.labelNames, k, `le="${this.buckets[i]}"`)} ${s.counts[i]}\n`;
      }
      out += `${this.name}_bucket${renderLabels(this.labelNames, k, 'le="+Inf"')} ${s.count}\n`;
      out += `${this.name}_sum${renderLabels(this.labelNames, k)} ${s.sum}\n`;
      out += `${this.name}_count${renderLabels(this.labelNames, k)} ${s.count}\n`;
    }
    return out;
  }
}

export class Registry {
  private readonly metrics: Metric[] = [];
  register<M extends Metric>(m: M): M {
    this.metrics.push(m);
    return m;
  }
  render(): string {
    return this.metrics.map((m) => m.render()).join('');
  }
}

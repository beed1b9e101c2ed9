/**
 * What each kind contributes to the one generic registry: defaulting, validation, the spec/status
 * split, table columns, selectable fields and scope. Mirrors upstream's rest.RESTCreateStrategy,
 * RESTUpdateStrategy and TableConvertor. The generic store never branches on kind.
 */
import type { FieldError } from '../../../api/errors.js';

/** A Kubernetes object as plain JSON. */
export type KObject = Record<string, any>;

/** Static facts about a resource, as discovery reports them. */
export interface ResourceInfo {
  group: string;
  version: string;
  /** Plural lower-case resource name, e.g. `pods`. */
  resource: string;
  /** Singular, e.g. `pod`. */
  singular: string;
  kind: string;
  /** e.g. `PodList`; defaults to kind + "List". */
  listKind?: string;
  namespaced: boolean;
  shortNames?: string[];
  categories?: string[];
  /** Verbs on the main resource; default: all eight. */
  verbs?: string[];
}

export interface TableColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  format?: string;
  description: string;
  /** 0 = default view, 1 = `-o wide`. */
  priority: number;
}

/** Server-side Table conversion for `kubectl get`. */
export interface TableConvertor {
  columns: TableColumn[];
  /** One cell per column. `now` is for ages. */
  cells(obj: KObject, now: Date): unknown[];
}

/** Per-kind behaviour for writes through the main resource. */
export interface Strategy {
  info: ResourceInfo;
  /**
   * How metadata is validated (upstream's ValidateNameFunc); default 'dns-subdomain'.
   * 'none': upstream runs no ObjectMeta validation for the kind (core/v1 Events); only a name is required.
   */
  nameValidation?: 'dns-subdomain' | 'dns-label' | 'dns-1035-label' | 'path-segment' | 'none';
  /** Fill defaults (upstream's SetDefaults_*). Called on create, update and patch results before validation. */
  defaults?(obj: KObject): void;
  /** Reset what a create may not set (e.g. status). */
  prepareForCreate?(obj: KObject): void;
  /** Carry over what an update of the main resource may not change (e.g. status). */
  prepareForUpdate?(obj: KObject, old: KObject): void;
  /** Validate a new object; metadata (name, namespace, labels...) is validated generically. */
  validate?(obj: KObject): FieldError[];
  /** Validate an update; immutability rules go here. */
  validateUpdate?(obj: KObject, old: KObject): FieldError[];
  /** True when spec changes bump metadata.generation (every kind with a spec/status split). */
  bumpsGeneration?: boolean;
  /** Table columns; if absent, the generic Name / Created At table is served. */
  table?: TableConvertor;
  /**
   * Field-selector values beyond metadata.name and metadata.namespace,
   * e.g. `{ 'spec.nodeName': ..., 'status.phase': ... }`.
   */
  selectableFields?(obj: KObject): Record<string, string>;
  /** The `/status` subresource's strategy, when the kind has one. */
  status?: StatusStrategy;
  /** The `/scale` subresource (autoscaling/v1 Scale), when the kind has one. */
  scale?: ScaleStrategy;
  /**
   * Further subresources served like `/status` (get, update, patch of the whole object) with their
   * own rules of what may change, e.g. pods' `/ephemeralcontainers`.
   */
  updateSubresources?: Record<string, StatusStrategy>;
  /**
   * Graceful deletion: the grace period a delete gets, from the request's and the object's values
   * (pods: spec.terminationGracePeriodSeconds, 0 when unscheduled). Absent: deletion is immediate.
   */
  deleteGracePeriod?(obj: KObject, requested: number | undefined): number;
  /**
   * Deletion beyond metadata.finalizers, e.g. a namespace's spec.finalizers: mutate `obj`
   * (phase Terminating) and return true while something else must finish before the object goes.
   */
  pendingFinalization?(obj: KObject): boolean;
  /** Immediate deletes answer with the deleted object rather than a Status (upstream's ReturnDeletedObject: pods, services...). */
  returnDeletedObject?: boolean;
  /** Hooks around storage for kinds that allocate (Service IPs and ports). */
  hooks?: StoreHooks;
  /**
   * Another API version's storage: objects live under `resource` of `group` in that version's
   * shape (upstream stores events.k8s.io/v1 Events as core/v1 Events), converted on the way in and out.
   */
  storedAs?: StorageConversion;
}

/** Where and in what shape a kind served in another version is stored. */
export interface StorageConversion {
  group: string;
  resource: string;
  apiVersion: string;
  kind: string;
  /** This API's object → the stored shape. */
  toStorage(obj: KObject): KObject;
  /** The stored shape → this API's object. */
  fromStorage(obj: KObject): KObject;
}

/** Where a kind keeps its replica count and selector, for `/scale`. */
export interface ScaleStrategy {
  specReplicas(obj: KObject): number;
  setSpecReplicas(obj: KObject, n: number): void;
  statusReplicas(obj: KObject): number;
  /** The label selector as a string, e.g. `app=web`. */
  selector(obj: KObject): string;
}

/** The `/status` subresource: an update that may change only status. */
export interface StatusStrategy {
  /** Keep everything but status from `old` (upstream's PrepareForUpdate of the status strategy). */
  prepareForUpdate(obj: KObject, old: KObject): void;
  validateUpdate?(obj: KObject, old: KObject): FieldError[];
}

/** Access the hooks get; they go through the same store, never around it. */
export interface HookContext {
  /** True for dryRun=All: allocate nothing that persists. */
  dryRun: boolean;
  /** Claim a unique key in the allocation space (e.g. `/registry/k8ts/ipaddresses/10.43.0.5`). False if taken. */
  claim(key: string, owner: string): Promise<boolean>;
  /** Release a claimed key. */
  release(key: string): Promise<void>;
}

export interface StoreHooks {
  /** Before the object is written on create (after validation): allocate. Throw a StatusError to refuse. */
  beforeCreate?(obj: KObject, ctx: HookContext): Promise<void>;
  /** Before an update is written (after validation): allocate or release as the change needs. */
  beforeUpdate?(obj: KObject, old: KObject, ctx: HookContext): Promise<void>;
  /** After the object is gone from storage: release what it held. */
  afterDelete?(obj: KObject, ctx: HookContext): Promise<void>;
  /** When a create failed after beforeCreate: release. */
  abortCreate?(obj: KObject, ctx: HookContext): Promise<void>;
}

/**
 * The shape every control-plane component (scheduler, each controller, hollow nodes) shares, so
 * that the composition roots can start, stop and gate them alike, in one process or in several.
 */
import type { RestClient } from './rest-client.js';
import type { SharedInformerFactory } from './informer.js';
import type { EventRecorder } from './event-recorder.js';

/** What a component gets: a client, the shared informers, and an event recorder. */
export interface ComponentContext {
  client: RestClient;
  /** Shared by every component in the process; call `informers.start()` after registering. */
  informers: SharedInformerFactory;
  /** An event recorder reporting as `component`. */
  recorder(component: string): EventRecorder;
}

/** A long-running loop with an explicit start and stop. */
export interface Component {
  readonly name: string;
  /** Register informers and handlers, then start workers. Must not block until stop. */
  start(ctx: ComponentContext): Promise<void>;
  /** Stop workers and release everything the component owns. */
  stop(): Promise<void>;
}

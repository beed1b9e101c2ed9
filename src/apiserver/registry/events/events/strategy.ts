/** events.k8s.io/v1 events: the strict validation of that API and the events table. */
import { validateEventsV1Event, validateEventsV1EventUpdate } from '../../../../api/validation/groups.js';
import type { KObject, StorageConversion, Strategy } from '../../generic/strategy.js';
import { eventColumns, eventRow } from '../../core/events/strategy.js';

/** Field-selector values, under both the events.k8s.io and the core/v1 names. */
export function eventsV1SelectableFields(ev: KObject): Record<string, string> {
  const r = ev.regarding ?? {};
  const f: Record<string, string> = {};
  for (const k of ['kind', 'namespace', 'name', 'uid', 'apiVersion', 'resourceVersion', 'fieldPath']) {
    f[`regarding.${k}`] = r[k] ?? '';
    f[`involvedObject.${k}`] = r[k] ?? '';
  }
  f.reason = ev.reason ?? '';
  f.reportingController = ev.reportingController ?? '';
  f.reportingComponent = ev.reportingController ?? '';
  f.source = ev.deprecatedSource?.component || ev.reportingController || '';
  f.type = ev.type ?? '';
  return f;
}

/** Fields that differ between events.k8s.io/v1 and core/v1 Events: [events/v1, core/v1]. */
const renamed: [string, string][] = [
  ['regarding', 'involvedObject'],
  ['note', 'message'],
  ['deprecatedSource', 'source'],
  ['deprecatedFirstTimestamp', 'firstTimestamp'],
  ['deprecatedLastTimestamp', 'lastTimestamp'],
  ['deprecatedCount', 'count'],
  ['reportingController', 'reportingComponent'],
];

function rename(obj: KObject, pairs: [string, string][]): KObject {
  const out: KObject = { ...obj };
  for (const [from, to] of pairs) {
    if (from in out) {
      if (out[from] !== undefined && out[from] !== null) out[to] = out[from];
      delete out[from];
    }
  }
  return out;
}

/** events.k8s.io/v1 Events are stored as core/v1 Events, as upstream does, so both APIs see every event. */
export const eventsV1Storage: StorageConversion = {
  group: '',
  resource: 'events',
  apiVersion: 'v1',
  kind: 'Event',
  toStorage: (ev) => rename(ev, renamed),
  fromStorage: (ev) => rename(ev, renamed.map(([a, b]) => [b, a])),
};

/** The events.k8s.io events strategy. */
export function eventsV1Strategy(): Strategy {
  return {
    info: { group: 'events.k8s.io', version: 'v1', resource: 'events', singular: 'event', kind: 'Event', namespaced: true, shortNames: ['ev'] },
    nameValidation: 'dns-subdomain',
    validate: validateEventsV1Event,
    validateUpdate: validateEventsV1EventUpdate,
    table: {
      columns: eventColumns,
      cells: (ev, now) =>
        eventRow(
          {
            firstTimestamp: ev.deprecatedFirstTimestamp,
            lastTimestamp: ev.deprecatedLastTimestamp,
            eventTime: ev.eventTime,
            series: ev.series,
            count: ev.deprecatedCount,
            kind: ev.regarding?.kind,
            name: ev.regarding?.name,
            fieldPath: ev.regarding?.fieldPath,
            type: ev.type,
            reason: ev.reason,
            message: ev.note,
            sourceComponent: ev.deprecatedSource?.component,
            sourceHost: ev.deprecatedSource?.host,
            reportingController: ev.reportingController,
            reportingInstance: ev.reportingInstance,
            eventName: ev.metadata?.name,
          },
          now,
        ),
    },
    selectableFields: eventsV1SelectableFields,
    storedAs: eventsV1Storage,
  };
}

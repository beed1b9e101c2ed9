/** events.k8s.io/v1 events: the strict validation of that API and the events table. */
import { validateEventsV1Event, validateEventsV1EventUpdate } from '../../../../api/validation/groups.js';
import type { KObject, Strategy } from '../../generic/strategy.js';
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
  };
}

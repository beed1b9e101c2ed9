/**
 * core/v1 events: lenient legacy validation, the involvedObject field selectors `kubectl
 * describe` uses, and the events table (Last Seen, Type, Reason, Object, Message | …).
 */
import { translateTimestampSince } from '../../../../api/duration.js';
import { validateEvent } from '../../../../api/validation/core.js';
import type { KObject, Strategy, TableColumn } from '../../generic/strategy.js';
import { col, nameDescription } from '../../strategy-helpers.js';

/** Field-selector values of a core/v1 Event. */
export function eventSelectableFields(ev: KObject): Record<string, string> {
  const io = ev.involvedObject ?? {};
  return {
    'involvedObject.kind': io.kind ?? '',
    'involvedObject.namespace': io.namespace ?? '',
    'involvedObject.name': io.name ?? '',
    'involvedObject.uid': io.uid ?? '',
    'involvedObject.apiVersion': io.apiVersion ?? '',
    'involvedObject.resourceVersion': io.resourceVersion ?? '',
    'involvedObject.fieldPath': io.fieldPath ?? '',
    reason: ev.reason ?? '',
    reportingComponent: ev.reportingComponent ?? '',
    source: ev.source?.component || ev.reportingComponent || '',
    type: ev.type ?? '',
  };
}

/** The events columns, in upstream's order. */
export const eventColumns: TableColumn[] = [
  col('Last Seen', 'string', 'The time at which the most recent occurrence of this event was recorded.'),
  col('Type', 'string', 'Type of this event (Normal, Warning), new types could be added in the future'),
  col('Reason', 'string', "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
  col('Object', 'string', 'The object that this event is about.'),
  col('Subobject', 'string', 'If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2].', 1),
  col('Source', 'string', 'The component reporting this event. Should be a short machine understandable string.', 1),
  col('Message', 'string', 'A human-readable description of the status of this operation.'),
  col('First Seen', 'string', 'The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)', 1),
  col('Count', 'string', 'The number of times this event has occurred.', 1),
  col('Name', 'string', nameDescription, 1, 'name'),
];

/** The parts of an event row, whichever API the event came through. */
export interface EventRowParts {
  firstTimestamp?: string;
  lastTimestamp?: string;
  eventTime?: string;
  series?: { count?: number; lastObservedTime?: string };
  count?: number;
  kind?: string;
  name?: string;
  fieldPath?: string;
  type?: string;
  reason?: string;
  message?: string;
  sourceComponent?: string;
  sourceHost?: string;
  reportingController?: string;
  reportingInstance?: string;
  eventName?: string;
}

/** One event row (upstream's printEvent, wide form). */
export function eventRow(p: EventRowParts, now: Date): unknown[] {
  const first = p.firstTimestamp ? translateTimestampSince(p.firstTimestamp, now) : translateTimestampSince(p.eventTime, now);
  let last = p.lastTimestamp ? translateTimestampSince(p.lastTimestamp, now) : first;
  let count = p.count ?? 0;
  if (p.series) {
    last = translateTimestampSince(p.series.lastObservedTime, now);
    count = p.series.count ?? 0;
  } else if (count === 0) {
    count = 1;
  }
  const kind = String(p.kind ?? '').toLowerCase();
  const target = p.name ? `${kind}/${p.name}` : kind;
  const component = p.sourceComponent || p.reportingController || '';
  const instance = p.sourceHost || p.reportingInstance || '';
  const source = instance ? `${component}, ${instance}` : component;
  return [last, p.type ?? '', p.reason ?? '', target, p.fieldPath ?? '', source, String(p.message ?? '').trim(), first, count, p.eventName ?? ''];
}

/** The core/v1 events strategy. */
export function eventStrategy(): Strategy {
  return {
    info: { group: '', version: 'v1', resource: 'events', singular: 'event', kind: 'Event', namespaced: true, shortNames: ['ev'] },
    nameValidation: 'none',
    validate: validateEvent,
    validateUpdate: validateEvent,
    table: {
      columns: eventColumns,
      cells: (ev, now) =>
        eventRow(
          {
            firstTimestamp: ev.firstTimestamp,
            lastTimestamp: ev.lastTimestamp,
            eventTime: ev.eventTime,
            series: ev.series,
            count: ev.count,
            kind: ev.involvedObject?.kind,
            name: ev.involvedObject?.name,
            fieldPath: ev.involvedObject?.fieldPath,
            type: ev.type,
            reason: ev.reason,
            message: ev.message,
            sourceComponent: ev.source?.component,
            sourceHost: ev.source?.host,
            reportingController: ev.reportingComponent,
            reportingInstance: ev.reportingInstance,
            eventName: ev.metadata?.name,
          },
          now,
        ),
    },
    selectableFields: eventSelectableFields,
  };
}

/** The audit log (`--audit-policy-file`, `--audit-log-path`): upstream's audit.k8s.io/v1 Policy and Events. */
export { createAuditSink, formatMicroTime, sourceIPs } from './sink.js';
export type { AuditEvent, AuditObjectReference, AuditSinkOptions, AuditUserInfo, ClosableAuditSink } from './sink.js';
export { evaluatePolicy, loadAuditPolicy, matchingRule, parseAuditPolicy, ruleMatches, auditLevels, auditStages } from './policy.js';
export type { AuditAttributes, AuditDecision, AuditGroupResources, AuditLevel, AuditPolicy, AuditPolicyRule, AuditStage } from './policy.js';
export { AuditWriter } from './writer.js';
export type { AuditWriterOptions } from './writer.js';

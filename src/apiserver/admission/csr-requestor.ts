/**
 * Records who asked for a certificate: on create of a CertificateSigningRequest, spec.username,
 * uid, groups and extra come from the authenticated user, never from the client (upstream sets
 * them in the CSR strategy's PrepareForCreate from the request context).
 */
import type { AdmissionPlugin } from './index.js';

/** The CSR requestor plugin (mutating). */
export const csrRequestor: AdmissionPlugin = {
  name: 'CertificateSigningRequestRequestor',
  mutate({ operation, object, store, user, subresource }) {
    if (operation !== 'CREATE' || subresource !== '') return;
    if (store.gr.group !== 'certificates.k8s.io' || store.gr.resource !== 'certificatesigningrequests') return;
    const spec = (object.spec ??= {});
    delete spec.username;
    delete spec.uid;
    delete spec.groups;
    delete spec.extra;
    // The server's own writes have no user: the request then names no requestor.
    if (!user) return;
    spec.username = user.username;
    if (user.uid) spec.uid = user.uid;
    if (user.groups.length) spec.groups = [...user.groups];
    if (user.extra && Object.keys(user.extra).length) spec.extra = structuredClone(user.extra);
  },
};

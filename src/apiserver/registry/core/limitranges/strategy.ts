/** core/v1 limitranges (upstream prints the generic Name/Created At table for these). */
import { defaultLimitRange } from '../../../../api/defaulting/core.js';
import { validateLimitRange } from '../../../../api/validation/core.js';
import type { Strategy } from '../../generic/strategy.js';

/** The limitranges strategy. */
export function limitRangeStrategy(): Strategy {
  return {
    info: { group: '', version: 'v1', resource: 'limitranges', singular: 'limitrange', kind: 'LimitRange', namespaced: true, shortNames: ['limits'] },
    nameValidation: 'dns-subdomain',
    defaults: (obj) => {
      defaultLimitRange(obj);
    },
    validate: validateLimitRange,
    validateUpdate: validateLimitRange,
  };
}

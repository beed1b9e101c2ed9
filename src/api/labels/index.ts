/** Label and field selectors. */
export * from './label-selector.js';
export * from './field-selector.js';

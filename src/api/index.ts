// Public surface of the API area: schemas, static types, enums, constants and
// normalisation. Other areas import from here, never from the files directly.
export * from './constants.ts';
export * from './status.ts';
export * from './canary.ts';
export * from './metric-template.ts';
export * from './alert-provider.ts';
export * from './normalize.ts';
export { parseGoDuration } from './duration.ts';
export { GO_DURATION_PATTERN, ObjectMetaSchema, type CelRule } from './schema-helpers.ts';

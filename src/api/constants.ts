// Names that identify Fledge's API on the cluster. Other areas import these
// instead of spelling the strings, so a rename happens in one place.

export const GROUP = 'fledge.dev';
export const VERSION = 'v1beta1';
export const API_VERSION = `${GROUP}/${VERSION}` as const;

export const CANARY_KIND = 'Canary';
export const METRIC_TEMPLATE_KIND = 'MetricTemplate';
export const ALERT_PROVIDER_KIND = 'AlertProvider';

export const CANARY_PLURAL = 'canaries';
export const METRIC_TEMPLATE_PLURAL = 'metrictemplates';
export const ALERT_PROVIDER_PLURAL = 'alertproviders';

/** Added when `spec.revertOnDeletion` is true; removed once the revert is done. */
export const FINALIZER = 'fledge.dev/finalizer';

/**
 * One-shot manual controls. The value is an opaque token (the CLI writes a
 * timestamp); the controller acts once per distinct value and records the
 * handled token in `status.handledControls`. Pause/resume is `spec.suspend`.
 */
export const PROMOTE_ANNOTATION = 'fledge.dev/promote';
export const ABORT_ANNOTATION = 'fledge.dev/abort';
export const RETRY_ANNOTATION = 'fledge.dev/retry';
export const MANUAL_CONTROL_ANNOTATIONS = {
  promote: PROMOTE_ANNOTATION,
  abort: ABORT_ANNOTATION,
  retry: RETRY_ANNOTATION,
} as const;
export type ManualControl = keyof typeof MANUAL_CONTROL_ANNOTATIONS;

/** On a ConfigMap or Secret: `disabled` stops Fledge from copying and tracking it. */
export const CONFIG_TRACKING_ANNOTATION = 'fledge.dev/config-tracking';

/**
 * On a target: the revision of the source that applied it (a Git commit), named in the status, events,
 * alerts and `fledge status` of its runs. The default key of `--revision-annotation`.
 */
export const REVISION_ANNOTATION = 'fledge.dev/revision';

/** Flagger's keys with a Fledge equivalent; `fledge migrate` rewrites them. */
export const FLAGGER_GROUP = 'flagger.app';
export const FLAGGER_API_VERSION = 'flagger.app/v1beta1';
export const FLAGGER_ANNOTATION_RENAMES: Readonly<Record<string, string>> = {
  'flagger.app/config-tracking': CONFIG_TRACKING_ANNOTATION,
};

/** Builtin metric names that need neither a template nor a query. */
export const BuiltinMetrics = ['request-success-rate', 'request-duration'] as const;
export type BuiltinMetric = (typeof BuiltinMetrics)[number];

/** On a Knative Service target: the revision Fledge serves as the primary (Flagger's `flagger.app/primary-revision`). */
export const PRIMARY_REVISION_ANNOTATION = 'fledge.dev/primary-revision';

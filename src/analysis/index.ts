// Public surface of the analysis area: what the controller and engine import.
export {
  isNoData,
  noData,
  ProviderError,
  ProviderErrorKinds,
  type MetricProvider,
  type NoData,
  type ProviderConfig,
  type ProviderCredentials,
  type ProviderErrorKind,
  type ProviderTls,
} from './provider.ts';
export { createPrometheusProvider } from './stores/prometheus.ts';
export { metricStoreFor, metricStores, metricStoreTypes, type MetricStoreType } from './stores/index.ts';
export {
  defineStore,
  type AddressRule,
  type MetricStore,
  type SecretKey,
  type SecretSettings,
} from './store.ts';
export { createProvider, ProviderCache, providerFactories, type ProviderFactory } from './registry.ts';
export { settingsFromSecret, SecretKeys } from './credentials.ts';
export {
  BuiltinMetrics,
  BuiltinRouters,
  builtinQueryTemplate,
  builtinRouterFor,
  builtinRouterMetrics,
  isBuiltinMetric,
  type BuiltinMetric,
  type BuiltinRouter,
} from './builtin.ts';
export {
  BuiltinVariableNames,
  isPrometheusDuration,
  PlainQuery,
  PromQL,
  renderQuery,
  type QuerySyntax,
  TemplateError,
  type BuiltinVariableName,
  type TemplateVariables,
} from './template.ts';
export { goDurationToPrometheus } from './duration.ts';
export {
  formatValue,
  judge,
  MeasurementOutcomes,
  type Measurement,
  type MeasurementOutcome,
  type ThresholdRange,
  type Verdict,
} from './judge.ts';
export {
  analysisContextFor,
  measure,
  type AnalysisContext,
  type MeasureDeps,
  type ObjectRef,
} from './measure.ts';
export { forgetCanary, recordMeasurement, type MetricAnalysisGauge } from './gauge.ts';

import { defineStore } from '../store.ts';
import { PlainQuery } from '../template.ts';

export const externalmetrics = defineStore({
  type: 'externalmetrics',
  summary: 'Kubernetes external metrics API (`external.metrics.k8s.io`)',
  address: { kind: 'cluster' },
  headers: false,
  insecureSkipVerify: false,
  syntax: PlainQuery,
  permissions: [{ apiGroup: 'external.metrics.k8s.io', resources: ['*'], verbs: ['get'] }],
});

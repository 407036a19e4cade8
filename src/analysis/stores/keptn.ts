import { defineStore } from '../store.ts';
import { PlainQuery } from '../template.ts';

export const keptn = defineStore({
  type: 'keptn',
  summary: 'value of a Keptn `KeptnMetric` or `Analysis` resource read from the cluster',
  address: { kind: 'cluster' },
  headers: false,
  insecureSkipVerify: false,
  syntax: PlainQuery,
  permissions: [
    {
      apiGroup: 'metrics.keptn.sh',
      resources: ['keptnmetrics', 'analyses'],
      verbs: ['get', 'create', 'delete'],
    },
  ],
});

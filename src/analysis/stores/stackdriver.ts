import { defineStore } from '../store.ts';
import { PlainQuery } from '../template.ts';

export const stackdriver = defineStore({
  type: 'stackdriver',
  summary: 'Google Cloud Monitoring time-series query (PromQL) as a service account',
  address: { kind: 'default', value: 'https://monitoring.googleapis.com' },
  headers: false,
  secretKeys: [
    { key: 'project', meaning: 'Google Cloud project queried', credential: false, required: true },
    { key: 'serviceAccountKey', meaning: 'service account key JSON', credential: true },
  ],
  syntax: PlainQuery,
});

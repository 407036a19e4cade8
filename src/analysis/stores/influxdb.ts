import { defineStore } from '../store.ts';
import { PlainQuery } from '../template.ts';

export const influxdb = defineStore({
  type: 'influxdb',
  summary: 'Flux query (`/api/v2/query`); the first value of the first table',
  address: { kind: 'required' },
  secretKeys: [
    { key: 'token', meaning: 'sent as `Authorization: Token <token>`', credential: true, required: true },
    { key: 'org', meaning: 'organisation the query runs in', credential: false, required: true },
  ],
  syntax: PlainQuery,
});

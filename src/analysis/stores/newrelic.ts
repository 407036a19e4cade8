import { defineStore } from '../store.ts';
import { PlainQuery } from '../template.ts';

export const newrelic = defineStore({
  type: 'newrelic',
  summary: 'NRQL through the Insights query API, `SINCE` one metric interval ago',
  address: { kind: 'default', value: 'https://insights-api.newrelic.com' },
  secretKeys: [
    {
      key: 'newrelic_account_id',
      meaning: 'account whose data is queried',
      credential: false,
      required: true,
    },
    { key: 'newrelic_query_key', meaning: 'sent as `X-Query-Key`', credential: true, required: true },
  ],
  syntax: PlainQuery,
});

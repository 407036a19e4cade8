import { defineStore, TlsSecretKeys } from '../store.ts';
import { PlainQuery } from '../template.ts';

export const datadog = defineStore({
  type: 'datadog',
  summary:
    'metrics query API (`/api/v1/query`) over ten metric intervals; the oldest point of the one series',
  address: { kind: 'default', value: 'https://api.datadoghq.com' },
  secretKeys: [
    { key: 'datadog_api_key', meaning: 'sent as `DD-API-KEY`', credential: true, required: true },
    {
      key: 'datadog_application_key',
      meaning: 'sent as `DD-APPLICATION-KEY`',
      credential: true,
      required: true,
    },
    ...TlsSecretKeys,
  ],
  syntax: PlainQuery,
});

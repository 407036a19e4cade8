import { defineStore } from '../store.ts';
import { PlainQuery } from '../template.ts';

export const dynatrace = defineStore({
  type: 'dynatrace',
  summary: 'metrics API v2 (`/api/v2/metrics/query`) with `resolution=Inf` over ten metric intervals',
  address: { kind: 'required' },
  secretKeys: [
    {
      key: 'dynatrace_token',
      meaning: 'sent as `Authorization: Api-Token <token>`',
      credential: true,
      required: true,
    },
  ],
  syntax: PlainQuery,
});

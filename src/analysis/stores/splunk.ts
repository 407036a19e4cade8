import { defineStore } from '../store.ts';
import { PlainQuery } from '../template.ts';

export const splunk = defineStore({
  type: 'splunk',
  summary: 'Splunk Observability (SignalFx) SignalFlow program',
  address: { kind: 'required' },
  secretKeys: [{ key: 'sf_token_key', meaning: 'sent as `X-SF-Token`', credential: true, required: true }],
  syntax: PlainQuery,
});

import { defineStore } from '../store.ts';
import { PlainQuery } from '../template.ts';

export const cloudwatch = defineStore({
  type: 'cloudwatch',
  summary: '`GetMetricData` with the template as its `MetricDataQueries` JSON, signed with SigV4',
  address: { kind: 'default', value: 'https://monitoring.<region>.amazonaws.com' },
  region: 'required',
  headers: false,
  secretKeys: [
    { key: 'aws_access_key_id', meaning: 'access key id; else the ambient AWS chain', credential: false },
    { key: 'aws_secret_access_key', meaning: 'secret access key', credential: true },
    { key: 'aws_session_token', meaning: 'session token of temporary credentials', credential: true },
  ],
  syntax: PlainQuery,
});

import { defineStore } from '../store.ts';
import { PlainQuery } from '../template.ts';

export const graphite = defineStore({
  type: 'graphite',
  summary: 'render API (`/render?format=json`); the last non-null point of all targets',
  address: { kind: 'required' },
  secretKeys: [
    { key: 'username', meaning: 'HTTP basic auth user', credential: false, required: true },
    { key: 'password', meaning: 'HTTP basic auth password', credential: true, required: true },
  ],
  syntax: PlainQuery,
});

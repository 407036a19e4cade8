import { httpAuthSecretKeys, settingsFromSecret } from '../credentials.ts';
import { baseOf, checkStatus, createHttpStore, numberFrom, parseAddress, parseJson } from '../http-store.ts';
import { parseJsonPath, selectJsonPath } from '../json-path.ts';
import { noData, ProviderError, type MetricProvider, type NoData, type ProviderConfig } from '../provider.ts';
import { queryDocument } from '../query-document.ts';
import { defineStore } from '../store.ts';
import { PlainQuery } from '../template.ts';

// The web metric (Argo Rollouts' `web`, a Fledge extension type): one HTTP
// request to any JSON API, and a JSONPath that picks the number out of the
// answer. The query is a small YAML (or JSON) document describing the request.

interface WebRequest {
  readonly path: string;
  readonly method: 'GET' | 'POST';
  readonly body?: string;
  readonly jsonPath: string;
}

export function createWebProvider(config: ProviderConfig): MetricProvider {
  const where = baseOf(parseAddress(config.address, 'web endpoint', 'https://scores.example/api'));
  const store = createHttpStore(config, { name: 'web endpoint', where });

  return {
    async query(query: string, signal?: AbortSignal): Promise<number | NoData> {
      const request = parseRequest(query);
      const steps = parseJsonPath(request.jsonPath);
      if (typeof steps === 'string') throw new ProviderError('bad-query', steps);
      const url = `${where}${request.path}`;
      const res = await store.send(
        {
          method: request.method,
          url,
          ...(request.body !== undefined && {
            body: request.body,
            headers: { 'Content-Type': 'application/json' },
          }),
        },
        signal,
      );
      checkStatus(res, {
        name: 'web endpoint',
        where: url,
        credentials: 'token or username and password in the Secret named by spec.provider.secretRef',
      });
      const value = selectJsonPath(parseJson(res.body, 'web endpoint', url), steps);
      return readValue(value, request.jsonPath);
    },
    close: () => store.close(),
  };
}

function parseRequest(query: string): WebRequest {
  const {
    path = '',
    method = 'GET',
    body,
    jsonPath,
  } = queryDocument(
    query,
    'web',
    ['path', 'method', 'body', 'jsonPath'],
    'a mapping with jsonPath and optionally path, method, body',
  );
  if (typeof jsonPath !== 'string')
    throw new ProviderError('bad-query', 'the web query needs jsonPath, e.g. $.data.value');
  if (typeof path !== 'string' || (path !== '' && !path.startsWith('/') && !path.startsWith('?'))) {
    throw new ProviderError(
      'bad-query',
      'the web query path must start with / or ?; it is appended to spec.provider.address',
    );
  }
  if (method !== 'GET' && method !== 'POST') {
    throw new ProviderError('bad-query', `the web query method must be GET or POST, not ${String(method)}`);
  }
  if (body !== undefined && method !== 'POST')
    throw new ProviderError('bad-query', 'the web query has a body: set method: POST');
  return {
    path,
    method,
    jsonPath,
    ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  };
}

function readValue(value: unknown, jsonPath: string): number | NoData {
  if (value === undefined || value === null) return noData(`the answer has no value at ${jsonPath}`);
  if (typeof value === 'boolean') return value ? 1 : 0;
  const number = numberFrom(value);
  if (number === undefined) {
    throw new ProviderError(
      'unusable-result',
      `the value at ${jsonPath} is ${Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'an object' : `"${String(value)}"`}, not a number`,
    );
  }
  return Number.isNaN(number) ? noData(`the value at ${jsonPath} is NaN`) : number;
}

export const web = defineStore({
  type: 'web',
  summary:
    'any JSON API: one GET or POST, the number picked with a JSONPath (Fledge extension, as Argo Rollouts’ web metric)',
  address: { kind: 'required' },
  secretKeys: httpAuthSecretKeys,
  readSecret: settingsFromSecret,
  syntax: PlainQuery,
  factory: createWebProvider,
});

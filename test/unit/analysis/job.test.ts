import { describe, expect, it } from '@jest/globals';
import { ProviderError } from '../../../src/analysis/provider.ts';
import { createJobProvider, jobFrom } from '../../../src/analysis/stores/job.ts';

// How the job store builds a Job from its query; running it is tested against
// the real apiserver in test/integration/analysis/cluster-stores.test.ts.

const query = `
metadata:
  generateName: podinfo-smoke-
  labels: { team: web }
spec:
  template:
    spec:
      containers:
        - name: smoke
          image: curlimages/curl:8.10.1
          args: [-sf, http://podinfo-canary.test/healthz]
`;

describe('job store', () => {
  it("builds one attempt bounded by the metric interval, in the Canary's namespace", () => {
    expect(jobFrom(query, 'test', 30_000)).toEqual({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        generateName: 'podinfo-smoke-',
        namespace: 'test',
        labels: { team: 'web', 'app.kubernetes.io/managed-by': 'fledge' },
      },
      spec: {
        backoffLimit: 0,
        activeDeadlineSeconds: 30,
        ttlSecondsAfterFinished: 600,
        template: {
          spec: {
            restartPolicy: 'Never',
            containers: [
              {
                name: 'smoke',
                image: 'curlimages/curl:8.10.1',
                args: ['-sf', 'http://podinfo-canary.test/healthz'],
              },
            ],
          },
        },
      },
    });
  });

  it("keeps the template's own retries, deadline and restart policy", () => {
    const job = jobFrom(
      'spec: { backoffLimit: 2, activeDeadlineSeconds: 300, template: { spec: { restartPolicy: OnFailure, containers: [] } } }',
      'test',
      60_000,
    );
    expect(job.metadata?.generateName).toBe('fledge-metric-');
    expect(job.spec).toMatchObject({
      backoffLimit: 2,
      activeDeadlineSeconds: 300,
      template: { spec: { restartPolicy: 'OnFailure' } },
    });
  });

  it("names the Job for the measurement, after the query's generateName", () => {
    const named = jobFrom(query, 'test', 30_000, 'uid-1/r1/t2/metric/0-smoke');
    expect(named.metadata?.generateName).toBeUndefined();
    expect(named.metadata?.name).toMatch(/^podinfo-smoke-[0-9a-f]{16}$/);
    expect(jobFrom(query, 'test', 30_000, 'uid-1/r1/t2/metric/0-smoke').metadata?.name).toBe(
      named.metadata?.name,
    );
    expect(jobFrom(query, 'test', 30_000, 'uid-1/r1/t3/metric/0-smoke').metadata?.name).not.toBe(
      named.metadata?.name,
    );
  });

  it('refuses a query that is not a Job, naming what it takes', () => {
    const failure = (q: string) => {
      try {
        jobFrom(q, 'test', 60_000);
      } catch (err) {
        expect(err).toBeInstanceOf(ProviderError);
        return `${(err as ProviderError).kind}: ${(err as Error).message}`;
      }
      throw new Error('expected a ProviderError');
    };
    expect(failure('spec: [')).toMatch(/^bad-query: the job query is not YAML/);
    expect(failure('metadata: {}')).toBe(
      'bad-query: the job query needs spec, a Job spec with template.spec.containers',
    );
    expect(failure('spec: {}\nkind: Job')).toBe(
      'bad-query: the job query has unknown keys kind; it takes metadata, spec',
    );
    expect(failure('metadata: { name: x, namespace: y }\nspec: {}')).toMatch(
      /^bad-query: the job query's metadata takes labels, annotations and generateName, not name, namespace/,
    );
  });

  it('needs a cluster client', () => {
    expect(() =>
      createJobProvider({ type: 'job', address: '', namespace: 'test', timeoutMs: 1000 }, {}),
    ).toThrow('the job store reads the cluster and no Kubernetes client was given');
  });
});

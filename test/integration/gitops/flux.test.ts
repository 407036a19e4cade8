import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { stringify } from 'yaml';
import type { CanaryStatus } from '../../../src/api/index.ts';
import { canaryStatus, imageOf, inPhase, waitForCanary } from '../../harness/canary.ts';
import { kubectl } from '../../harness/control-plane.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { fluxSync, gitDeployment, reconcileFlux, startFlux, type Flux } from '../../harness/flux.ts';
import { startGitServer, type GitRepository, type GitServer } from '../../harness/git-server.ts';
import { startOperatorProcess, type OperatorProcess } from '../../harness/operator.ts';
import { repoRoot, waitFor } from '../../harness/processes.ts';
import { startFakeGatewayController, type FakeGatewayController } from '../../harness/third-party.ts';
import { apply } from '../controller/fixtures.ts';
import { startHookServer, type HookServer } from '../controller/hook-server.ts';
import { canaryEvents, recordStatusHistory, type StatusHistory } from '../controller/history.ts';

// The GitOps path on real parts: the app, its Canary and its MetricTemplate live in a Git repository,
// real Flux (source-controller + kustomize-controller) applies them, and Fledge releases each new image
// tag. Flux is made to reconcile during every run; nothing Fledge did may move backwards.

const run = promisify(execFile);
const APP = 'podinfo';
const SYNC = 'apps';
const RECONCILE = 'kustomize.toolkit.fluxcd.io/reconcile';
const DRIFT = 'helm.toolkit.fluxcd.io/driftDetection';
const gatewayRefs = [{ name: 'public', namespace: 'gateways' }];

interface Service {
  metadata: { annotations?: Record<string, string> };
  spec: { selector?: Record<string, string> };
}
interface Route {
  spec: { rules?: { backendRefs?: { name: string; weight?: number }[] }[] };
}

describe('GitOps with Flux', () => {
  const { kubeconfigPath, prometheusUrl } = integrationEnv();
  let namespace: string;
  let git: GitServer;
  let repo: GitRepository;
  let flux: Flux;
  let operator: OperatorProcess;
  let hooks: HookServer;
  let gateway: FakeGatewayController;

  const getJson = async <T>(kind: string, name: string): Promise<T> =>
    JSON.parse(await kubectl(kubeconfigPath, ['get', kind, name, '-n', namespace, '-o', 'json'])) as T;

  /** The repository's manifests with the app at image tag `tag`. */
  const manifests = (tag: string): Record<string, string> => {
    const labels = { app: APP };
    const files: Record<string, object> = {
      'deployment.yaml': gitDeployment(APP, `example/${APP}:${tag}`),
      // The apex Service predates the Canary: Fledge adopts it.
      'service.yaml': {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: APP },
        spec: { selector: labels, ports: [{ name: 'http', port: 9898, targetPort: 9898 }] },
      },
      // A Service Fledge does not manage: the control showing a forced reconcile does revert drift.
      'plain-service.yaml': {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'plain' },
        spec: { selector: { app: 'plain' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
      },
      'metric-template.yaml': {
        apiVersion: 'fledge.dev/v1beta1',
        kind: 'MetricTemplate',
        metadata: { name: 'always-fine' },
        spec: { provider: { type: 'prometheus', address: prometheusUrl }, query: 'vector(100)' },
      },
      'canary.yaml': {
        apiVersion: 'fledge.dev/v1beta1',
        kind: 'Canary',
        metadata: { name: APP },
        spec: {
          provider: 'gatewayapi:v1',
          targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: APP },
          service: { port: 9898, gatewayRefs },
          analysis: {
            interval: '10s',
            threshold: 2,
            maxWeight: 50,
            stepWeight: 25,
            metrics: [
              {
                name: 'always-fine',
                interval: '1m',
                templateRef: { name: 'always-fine' },
                thresholdRange: { min: 99 },
              },
            ],
            webhooks: [{ name: 'check', type: 'rollout', url: `${hooks.base}/check`, timeout: '3s' }],
          },
        },
      },
    };
    return Object.fromEntries(Object.entries(files).map(([path, object]) => [path, stringify(object)]));
  };

  const release = async (tag: string) => {
    const commit = await repo.commit(`release ${APP} ${tag}`, manifests(tag));
    await reconcileFlux(kubeconfigPath, namespace, SYNC, commit);
    return commit;
  };

  const canaryWeightOfRoute = async () => {
    const route = await getJson<Route>('httproutes.gateway.networking.k8s.io', APP);
    const refs = route.spec.rules?.flatMap((rule) => rule.backendRefs ?? []) ?? [];
    return refs.find((ref) => ref.name === `${APP}-canary`)?.weight ?? 0;
  };

  /** What must hold at any moment: the adopted apex sends traffic to a primary with ready pods. */
  const expectPrimaryServing = async (image: string) => {
    const apex = await getJson<Service>('service', APP);
    expect(apex.spec.selector).toEqual({ app: `${APP}-primary` });
    expect(apex.metadata.annotations).toMatchObject({ [RECONCILE]: 'disabled', [DRIFT]: 'disabled' });
    const primary = await getJson<{ status: { readyReplicas?: number } }>('deployment', `${APP}-primary`);
    expect(primary.status.readyReplicas ?? 0).toBeGreaterThan(0);
    expect(await imageOf(kubeconfigPath, namespace, `${APP}-primary`)).toBe(image);
  };

  /**
   * Waits until a run is under way (past its first weight step, or its first failed check when `failing`),
   * then forces Flux to apply the same commit again, twice, and checks that it neither reset the weight
   * nor reverted the apex or the primary.
   */
  const reconcileDuringRun = async (commit: string, primaryImage: string, failing = false) => {
    const { status } = await waitForCanary(
      kubeconfigPath,
      namespace,
      APP,
      (s) => s.phase === 'Progressing' && (failing ? (s.failedChecks ?? 0) > 0 : (s.canaryWeight ?? 0) > 0),
      { what: failing ? 'the run to fail a check' : 'the run to shift weight' },
    );
    const weight = status.canaryWeight ?? 0;
    for (let i = 0; i < 2; i++) {
      await reconcileFlux(kubeconfigPath, namespace, SYNC, commit);
      await expectPrimaryServing(primaryImage);
      const now = await canaryStatus(kubeconfigPath, namespace, APP);
      if (now.phase === 'Progressing') {
        expect(now.canaryWeight ?? 0).toBeGreaterThanOrEqual(weight);
        expect(await canaryWeightOfRoute()).toBeGreaterThanOrEqual(weight);
      }
    }
  };

  /** The revision Flux names a commit by; Fledge reads it from the Kustomization that applied the target. */
  const fluxRevision = (commit: string) => `main@sha1:${commit}`;

  /** Waits for the Canary event `reason` of the run of `commit` and returns its note. */
  const eventOfCommit = async (reason: string, commit: string) => {
    const lead = `commit ${commit.slice(0, 7)}`;
    let note = '';
    await waitFor(`a ${reason} event naming ${lead}`, async () => {
      const events = await canaryEvents(kubeconfigPath, namespace, APP);
      note = events.find((e) => e.reason === reason && e.note.startsWith(lead))?.note ?? '';
      return note !== '';
    });
    return note;
  };

  /** Within each run (Progressing), the stored weight never went down. */
  const weightsNeverReset = (history: StatusHistory) => {
    const drops: string[] = [];
    let previous: CanaryStatus | undefined;
    for (const { status } of history.versions()) {
      if (previous?.phase === 'Progressing' && status.phase === 'Progressing') {
        if ((status.canaryWeight ?? 0) < (previous.canaryWeight ?? 0))
          drops.push(`${previous.canaryWeight} -> ${status.canaryWeight}`);
      }
      previous = status;
    }
    expect(drops).toEqual([]);
  };

  beforeAll(async () => {
    namespace = await createTestNamespace('gitops');
    hooks = await startHookServer();
    git = await startGitServer();
    repo = await git.repository('apps');
    gateway = startFakeGatewayController(kubeconfigPath, namespace);
    flux = await startFlux(kubeconfigPath, namespace);
    operator = await startOperatorProcess({ kubeconfigPath, namespace });
    const first = await repo.commit(`add ${APP} 1`, manifests('1'));
    await apply(kubeconfigPath, ...fluxSync(namespace, SYNC, repo.url));
    await reconcileFlux(kubeconfigPath, namespace, SYNC, first);
    await waitForCanary(kubeconfigPath, namespace, APP, inPhase('Initialized'), { what: 'initialised' });
  }, 240_000);

  afterAll(async () => {
    await operator?.stop();
    await flux?.stop();
    await gateway?.stop();
    await git?.close();
    await hooks?.close();
  });

  it('releases a good commit, rolls back a bad one while Git keeps it, then releases the next', async () => {
    await expectPrimaryServing(`example/${APP}:1`);
    const history = recordStatusHistory(kubeconfigPath, namespace, APP);
    await history.started();
    try {
      // A good commit: promoted, with Flux re-applying mid-run.
      const good = await release('2');
      // The control: Flux does put back drift on an object Fledge leaves alone.
      await kubectl(kubeconfigPath, [
        '-n',
        namespace,
        'patch',
        'service',
        'plain',
        '-p',
        '{"spec":{"selector":{"app":"drifted"}}}',
      ]);
      await reconcileDuringRun(good, `example/${APP}:1`);
      expect((await getJson<Service>('service', 'plain')).spec.selector).toEqual({ app: 'plain' });
      await waitForCanary(kubeconfigPath, namespace, APP, inPhase('Succeeded'), { what: 'tag 2 promoted' });
      await expectPrimaryServing(`example/${APP}:2`);
      expect((await canaryStatus(kubeconfigPath, namespace, APP)).sourceRevision).toBe(fluxRevision(good));

      // A bad commit: the check fails, the run rolls back, and Git still says tag 3.
      hooks.answerWith(() => ({ status: 500, body: 'broken' }));
      const bad = await release('3');
      await reconcileDuringRun(bad, `example/${APP}:2`, true);
      await waitForCanary(kubeconfigPath, namespace, APP, inPhase('Failed'), { what: 'tag 3 rolled back' });
      // The audit trail: status and the rollback event name the bad commit, read from Flux.
      expect((await canaryStatus(kubeconfigPath, namespace, APP)).sourceRevision).toBe(fluxRevision(bad));
      expect(await eventOfCommit('RolledBack', bad)).toMatch(
        new RegExp(`^commit ${bad.slice(0, 7)} rolled back: failed checks reached the threshold`),
      );
      await reconcileFlux(kubeconfigPath, namespace, SYNC, bad);
      expect(await imageOf(kubeconfigPath, namespace, APP)).toBe(`example/${APP}:3`);
      await expectPrimaryServing(`example/${APP}:2`);
      // Flux applying the same bad commit again is not a new revision: no new run.
      expect((await canaryStatus(kubeconfigPath, namespace, APP)).phase).toBe('Failed');
      expect(await canaryWeightOfRoute()).toBe(0);

      // The next good commit is released normally.
      hooks.answerWith(() => ({ status: 200, body: 'ok' }));
      const next = await release('4');
      await reconcileDuringRun(next, `example/${APP}:2`);
      await waitForCanary(kubeconfigPath, namespace, APP, inPhase('Succeeded'), { what: 'tag 4 promoted' });
      await expectPrimaryServing(`example/${APP}:4`);
      expect(await repo.log()).toHaveLength(4);
      const { stdout } = await run(process.execPath, [
        join(repoRoot, 'src/cli/main.ts'),
        'status',
        APP,
        '-n',
        namespace,
        `--kubeconfig=${kubeconfigPath}`,
      ]);
      expect(stdout).toMatch(new RegExp(`Commit: +${next.slice(0, 7)} \\(${fluxRevision(next)}\\)`));

      // `fledge pause` sets spec.suspend, which Git leaves out: Flux applying again keeps the pause.
      await run(process.execPath, [
        join(repoRoot, 'src/cli/main.ts'),
        'pause',
        APP,
        '-n',
        namespace,
        `--kubeconfig=${kubeconfigPath}`,
      ]);
      await reconcileFlux(kubeconfigPath, namespace, SYNC, next);
      const paused = await getJson<{ spec: { suspend?: boolean } }>('canary', APP);
      expect(paused.spec.suspend).toBe(true);
    } finally {
      await history.stop();
    }
    weightsNeverReset(history);
  }, 240_000);
});

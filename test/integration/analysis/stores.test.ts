import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { imageOf } from '../../harness/canary.ts';
import { startFakeCloudWatch, type FakeCloudWatch } from '../../harness/cloudwatch.ts';
import { startFakeDatadog, type FakeDatadog } from '../../harness/datadog.ts';
import { createTestNamespace, integrationEnv } from '../../harness/env.ts';
import { startFakeDynatrace, type FakeDynatrace } from '../../harness/dynatrace.ts';
import { startGraphite, type Graphite } from '../../harness/graphite.ts';
import { startInfluxDB, type InfluxDB } from '../../harness/influxdb.ts';
import { installKeptnCrds, setKeptnMetric } from '../../harness/keptn.ts';
import { startFakeSplunk, type FakeSplunk } from '../../harness/splunk.ts';
import { startFakeCloudMonitoring, type FakeCloudMonitoring } from '../../harness/stackdriver.ts';
import { startFakeNewRelic, type FakeNewRelic } from '../../harness/newrelic.ts';
import { startOperatorProcess, type OperatorProcess } from '../../harness/operator.ts';
import { json, startServer, type Loopback } from '../../unit/analysis/loopback.ts';
import { apply } from '../controller/fixtures.ts';
import { canaryEvents } from '../controller/history.ts';
import { analysedRelease, expectPromotedAndRolledBack } from './release.ts';

// Canaries analysed through the operator with the metric stores other than
// Prometheus: a JSON API (web), the hosted APIs of Datadog, New Relic and
// Dynatrace, Splunk (loopback HTTPS servers speaking their documented shapes), and a
// real Graphite and InfluxDB from Debian. For each
// store one Canary whose metric is in range is promoted, and one whose metric
// is out of range is rolled back, both read from the store through the
// template's Secret.

const datadogKeys = { api: 'dd-api-Tz4mWq8cLp2x', application: 'dd-app-Hn6rYv3kSb9e' };
const graphiteAuth = { username: 'fledge', password: 'gr-Pk2sXn7vMq4w' };
const influxAuth = { username: 'fledge', password: 'in-Mv3qTb8xWk5n' };
const awsKeys = {
  accessKeyId: 'AKIAFLEDGEE2E000001',
  secretAccessKey: 'cw-Ks9dWm4pXv7bQt2z',
  region: 'eu-west-1',
};
const cloudwatchQuery = (name: string) =>
  JSON.stringify([
    {
      Id: 'rate',
      MetricStat: {
        Metric: {
          Namespace: 'App',
          MetricName: `success-${name}`,
          Dimensions: [{ Name: 'canary', Value: name }],
        },
        Period: 60,
        Stat: 'Average',
      },
    },
  ]);
const webToken = 'web-Jc5tRz9bNf3q';
const newrelicAccount = '7654321';
const newrelicKey = 'NRIQ-Wd8pLx3vKc6m';
const dynatraceToken = 'dt0c01.Rb4nTy7wQs2k';
const splunkToken = 'sf-Vn5kRw2xQj8m';
const splunkProgram = (name: string) =>
  `data('app.success_rate', filter=filter('canary', '${name}')).mean().publish()`;
const newrelicQuery = (name: string) =>
  `SELECT percentage(count(*), WHERE error IS false) AS result FROM Transaction WHERE appName = '${name}'`;
/** A smoke-test Job; the failing one's pod fits no node, so its 5 s deadline fails it. */
const smokeJob = (passes: boolean) => `
metadata:
  generateName: '{{ name }}-smoke-'
spec:
  activeDeadlineSeconds: 5
  template:
    spec:
      ${passes ? '' : 'nodeSelector: { fledge.dev/no-such-node: "true" }'}
      containers:
        - name: smoke
          image: example/smoke:1
`;
const dynatraceSelector = (name: string) => `app.success_rate:filter(eq("canary","${name}")):avg`;

describe('canary analysis with the stores other than Prometheus', () => {
  const { kubeconfigPath } = integrationEnv();
  let namespace: string;
  let operator: OperatorProcess;
  let web: Loopback;
  let datadog: FakeDatadog;
  let graphite: Graphite;
  let newrelic: FakeNewRelic;
  let dynatrace: FakeDynatrace;
  let influx: InfluxDB;
  let cloudwatch: FakeCloudWatch;
  let google: FakeCloudMonitoring;
  let splunk: FakeSplunk;
  /** The success rate each store reports for a canary, by Canary name. */
  const rates = new Map<string, number>();

  beforeAll(async () => {
    namespace = await createTestNamespace('stores');
    web = await startServer((req, res) => {
      if (req.headers.authorization !== `Bearer ${webToken}`) return json(res, 401, { error: 'bad token' });
      const canaryName = new URL(req.url, 'http://x').searchParams.get('canary') ?? '';
      const rate = rates.get(canaryName);
      return json(res, 200, { data: rate === undefined ? {} : { successRate: rate } });
    });
    datadog = await startFakeDatadog(datadogKeys);
    graphite = await startGraphite(graphiteAuth);
    newrelic = await startFakeNewRelic(newrelicAccount, newrelicKey);
    dynatrace = await startFakeDynatrace(dynatraceToken);
    cloudwatch = await startFakeCloudWatch(awsKeys);
    google = await startFakeCloudMonitoring('fledge-e2e-1');
    splunk = await startFakeSplunk(splunkToken);
    influx = await startInfluxDB(influxAuth);
    await influx.influxql('CREATE DATABASE apps');
    await installKeptnCrds(kubeconfigPath);
    operator = await startOperatorProcess({ kubeconfigPath, namespace });
    const template = (name: string, provider: object, query: string) => ({
      apiVersion: 'fledge.dev/v1beta1',
      kind: 'MetricTemplate',
      metadata: { name, namespace },
      spec: { provider, query },
    });
    const secret = (name: string, stringData: Record<string, string>) => ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, namespace },
      stringData,
    });
    await apply(
      kubeconfigPath,
      secret('web-auth', { token: webToken }),
      secret('datadog', {
        datadog_api_key: datadogKeys.api,
        datadog_application_key: datadogKeys.application,
        'ca.crt': datadog.ca,
      }),
      secret('graphite-auth', graphiteAuth),
      secret('newrelic', {
        newrelic_account_id: newrelicAccount,
        newrelic_query_key: newrelicKey,
        'ca.crt': newrelic.ca,
      }),
      secret('dynatrace', { dynatrace_token: dynatraceToken, 'ca.crt': dynatrace.ca }),
      secret('splunk', { sf_token_key: splunkToken, 'ca.crt': splunk.ca }),
      secret('influxdb', influxAuth),
      secret('aws', {
        aws_access_key_id: awsKeys.accessKeyId,
        aws_secret_access_key: awsKeys.secretAccessKey,
        'ca.crt': cloudwatch.ca,
      }),
      secret('gcp', {
        project: 'fledge-e2e-1',
        serviceAccountKey: google.serviceAccountKey,
        'ca.crt': google.ca,
      }),
      template(
        'stackdriver',
        { type: 'stackdriver', address: google.url, secretRef: { name: 'gcp' } },
        'sum(app_success_rate{canary="{{ name }}"})',
      ),
      template('keptn', { type: 'keptn' }, 'keptnmetric/{{ namespace }}/{{ name }}'),
      template('job-pass', { type: 'job' }, smokeJob(true)),
      template('job-fail', { type: 'job' }, smokeJob(false)),
      template(
        'cloudwatch',
        { type: 'cloudwatch', address: cloudwatch.url, region: awsKeys.region, secretRef: { name: 'aws' } },
        cloudwatchQuery('{{ name }}'),
      ),
      ...Object.entries<[string, string, string]>({
        web: [web.url, 'web-auth', 'path: /score?canary={{ name }}\njsonPath: $.data.successRate'],
        datadog: [
          datadog.url,
          'datadog',
          'avg:app.success_rate{kube_namespace:{{ namespace }},canary:{{ name }}}',
        ],
        graphite: [graphite.url, 'graphite-auth', 'target=app.{{ name }}.success&from=-10min'],
        newrelic: [newrelic.url, 'newrelic', newrelicQuery('{{ name }}')],
        dynatrace: [dynatrace.url, 'dynatrace', dynatraceSelector('{{ name }}')],
        splunk: [splunk.url, 'splunk', splunkProgram('{{ name }}')],
        influxdb: [
          influx.url,
          'influxdb',
          `SELECT last(success_rate) FROM "apps"."autogen"."requests" WHERE canary = '{{ name }}'`,
        ],
      }).map(([type, [address, secretName, query]]) =>
        template(type, { type, address, secretRef: { name: secretName } }, query),
      ),
    );
  }, 180_000);

  afterAll(async () => {
    await operator?.stop();
    await influx?.stop();
    await cloudwatch?.close();
    await google?.close();
    await splunk?.close();
    await dynatrace?.close();
    await newrelic?.close();
    await graphite?.stop();
    await datadog?.close();
    await web?.close();
  });

  async function setRate(store: string, name: string, rate: number): Promise<void> {
    if (store === 'web') rates.set(name, rate);
    if (store === 'datadog')
      datadog.answer(`avg:app.success_rate{kube_namespace:${namespace},canary:${name}}`, {
        series: [[rate, rate]],
      });
    if (store === 'keptn') await setKeptnMetric(kubeconfigPath, namespace, name, rate);
    if (store === 'graphite') await graphite.feed([{ path: `app.${name}.success`, value: rate }]);
    if (store === 'newrelic') newrelic.answer(newrelicQuery(name), { result: rate });
    if (store === 'stackdriver') google.answer(`sum(app_success_rate{canary="${name}"})`, rate);
    if (store === 'cloudwatch') cloudwatch.answer(`success-${name}`, [rate]);
    if (store === 'influxdb') await influx.write('apps', [`requests,canary=${name} success_rate=${rate}`]);
    if (store === 'dynatrace') dynatrace.answer(dynatraceSelector(name), { '': [rate] });
    if (store === 'splunk') splunk.answer(splunkProgram(name), { AAAAAKxOjeY: [rate] });
  }

  const release = (name: string, template: string, thresholdRange?: { min: number }) =>
    analysedRelease(kubeconfigPath, namespace, name, template, thresholdRange);

  for (const store of [
    'web',
    'datadog',
    'graphite',
    'newrelic',
    'dynatrace',
    'influxdb',
    'cloudwatch',
    'stackdriver',
    'splunk',
    'keptn',
  ] as const) {
    it(`${store}: promotes a canary whose metric is in range and rolls back one whose metric is not`, async () => {
      await setRate(store, `${store}-good`, 99.7);
      await setRate(store, `${store}-bad`, 91);
      const [good, bad] = await Promise.all([
        release(`${store}-good`, store),
        release(`${store}-bad`, store),
      ]);

      await expectPromotedAndRolledBack(
        kubeconfigPath,
        namespace,
        { name: `${store}-good`, status: good.status, value: 99.7 },
        { name: `${store}-bad`, status: bad.status, value: 91 },
      );
    }, 300_000);
  }

  it('job: promotes a canary whose Job completes and rolls back one whose Job fails', async () => {
    const [good, bad] = await Promise.all([
      release('job-good', 'job-pass', { min: 1 }),
      release('job-bad', 'job-fail', { min: 1 }),
    ]);
    expect(good.status.phase).toBe('Succeeded');
    expect(good.status.metrics?.find((m) => m.name === 'success-rate')).toMatchObject({
      value: 1,
      verdict: 'Pass',
    });
    expect(await imageOf(kubeconfigPath, namespace, 'job-good-primary')).toBe('example/app:2');
    expect(bad.status.phase).toBe('Failed');
    expect(await imageOf(kubeconfigPath, namespace, 'job-bad-primary')).toBe('example/app:1');
    const rolledBack = (await canaryEvents(kubeconfigPath, namespace, 'job-bad')).filter(
      (e) => e.reason === 'RolledBack',
    );
    expect(rolledBack[0]?.note).toContain('success-rate: 0 is below the minimum 1');
  }, 300_000);

  it('never writes a store credential to status, events or the operator log', async () => {
    const log = await operator.rawLog();
    const texts = [log];
    for (const name of [
      'web-bad',
      'datadog-bad',
      'graphite-bad',
      'newrelic-bad',
      'dynatrace-bad',
      'influxdb-bad',
      'splunk-bad',
    ]) {
      texts.push(JSON.stringify(await canaryEvents(kubeconfigPath, namespace, name)));
    }
    for (const credential of [
      datadogKeys.api,
      datadogKeys.application,
      graphiteAuth.password,
      webToken,
      newrelicKey,
      dynatraceToken,
      influxAuth.password,
      awsKeys.secretAccessKey,
      splunkToken,
      ...google.issued,
    ]) {
      for (const text of texts) expect(text).not.toContain(credential);
    }
    // The fakes saw every query with the right credentials.
    expect(datadog.unauthorized()).toBe(0);
    expect(graphite.unauthorized()).toBe(0);
  });
});

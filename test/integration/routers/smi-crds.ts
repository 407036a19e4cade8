import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import type { UpstreamCrds } from '../../../src/routers/index.ts';
import { osmRouter } from '../../../src/routers/osm.ts';
import { kubectl, waitEstablished } from '../../harness/control-plane.ts';
import { repoRoot, waitFor } from '../../harness/processes.ts';
import { upstreamCrdFiles } from '../../harness/third-party.ts';

// The SMI CRDs the TrafficSplit routers write to. Open Service Mesh's last release ships the
// only apiextensions.k8s.io/v1 SMI CRDs in a Go module: TrafficSplit serving v1alpha2, with
// v1alpha3 (and HTTPRouteGroup v1alpha3) present but not served. One apiserver holds one
// TrafficSplit CRD, so the tests serve v1alpha2 and v1alpha3 with OSM's own schemas, and
// v1alpha1 (Linkerd's) from a schema written from the SMI spec (test/fixtures/crds).

interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
}
interface Crd {
  metadata: { name: string };
  spec: { versions: CrdVersion[] };
}

const SPLITS = 'trafficsplits.split.smi-spec.io';
const ROUTE_GROUPS = 'httproutegroups.specs.smi-spec.io';

/** Only `served` versions stay, v1alpha3 stored (its schema is the widest: it has matches). */
function serve(crd: Crd, served: string[], extra: CrdVersion[] = []): Crd {
  const versions = [...crd.spec.versions, ...extra]
    .filter((v) => served.includes(v.name))
    .map((v) => ({ ...v, served: true, storage: v.name === 'v1alpha3' }));
  return { ...crd, spec: { ...crd.spec, versions } };
}

export async function installSmiCrds(kubeconfigPath: string): Promise<void> {
  const files = await upstreamCrdFiles(osmRouter.crds as UpstreamCrds);
  const crds = files.flatMap((file) =>
    parseAllDocuments(readFileSync(file, 'utf8'))
      .map((doc) => doc.toJS() as Crd | null)
      .filter((crd): crd is Crd => crd !== null),
  );
  const v1alpha1 = parse(
    readFileSync(join(repoRoot, 'test/fixtures/crds/smi-trafficsplit-v1alpha1.yaml'), 'utf8'),
  ) as CrdVersion;
  const wanted = crds.flatMap((crd) => {
    if (crd.metadata.name === SPLITS) return [serve(crd, ['v1alpha1', 'v1alpha2', 'v1alpha3'], [v1alpha1])];
    if (crd.metadata.name === ROUTE_GROUPS) return [serve(crd, ['v1alpha3'])];
    return [];
  });
  if (wanted.length !== 2) throw new Error(`expected ${SPLITS} and ${ROUTE_GROUPS} in ${files.join(', ')}`);
  await kubectl(
    kubeconfigPath,
    ['apply', '--server-side', '--force-conflicts', '-f', '-'],
    JSON.stringify({ apiVersion: 'v1', kind: 'List', items: wanted }),
  );
  await waitEstablished(kubeconfigPath, [`crd/${SPLITS}`, `crd/${ROUTE_GROUPS}`]);
  await waitFor('SMI kinds to be served', async () => {
    await kubectl(kubeconfigPath, ['get', `${SPLITS},${ROUTE_GROUPS}`, '--all-namespaces']);
    return true;
  });
}

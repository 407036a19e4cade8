/**
 * Work-queue keys in client-go's format: "namespace/name", or just "name" for
 * cluster-scoped objects. Names cannot contain "/", so the split is unambiguous.
 */
export interface ObjectKey {
  /** Empty for cluster-scoped objects. */
  namespace: string;
  name: string;
}

export function objectKey(namespace: string | undefined, name: string): string {
  if (!name) throw new Error('objectKey: name is empty');
  return namespace ? `${namespace}/${name}` : name;
}

export function keyOf(object: { metadata?: { namespace?: string; name?: string } }): string {
  const name = object.metadata?.name;
  if (!name) throw new Error('keyOf: object has no metadata.name');
  return objectKey(object.metadata?.namespace, name);
}

export function parseObjectKey(key: string): ObjectKey {
  const parts = key.split('/');
  if (parts.length === 1 && parts[0]) return { namespace: '', name: parts[0] };
  if (parts.length === 2 && parts[0] && parts[1]) return { namespace: parts[0], name: parts[1] };
  throw new Error(`"${key}" is not a work-queue key: expected "namespace/name" or "name"`);
}

/**
 * The ConfigMaps and Secrets an offloaded pod references live at home; B's kubelet reads copies
 * in our tenant namespace (`<name>-<hash of home namespace>`). A copy is made when the first pod
 * that needs it is offloaded, and from then on it follows its home object, as a local pod's
 * projected volume follows the object: a change at home is applied to the copy, a deletion at home
 * deletes the copy. Copies are never made for objects no offloaded pod referenced. Pure decisions
 * here; objectReflector.ts observes and acts.
 */
import { isDeepStrictEqual } from 'node:util';
import { OffloadingAnnotations, OffloadingLabels, remoteName } from '../names.js';

export type ReflectedKind = 'configmaps' | 'secrets';

/** A ConfigMap or Secret, with what a copy carries. */
export interface ReflectableObject {
  metadata: { name: string; namespace?: string; annotations?: Record<string, string>; labels?: Record<string, string>; deletionTimestamp?: string };
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
  type?: string;
}

/** The copy of home object `src` (of `homeNamespace`) in B's tenant namespace. */
export function reflectedObjectBody(kind: ReflectedKind, homeNamespace: string, src: ReflectableObject, tenantNamespace: string, consumerID: string): ReflectableObject & { apiVersion: string; kind: string } {
  return {
    apiVersion: 'v1',
    kind: kind === 'configmaps' ? 'ConfigMap' : 'Secret',
    metadata: {
      name: remoteName(homeNamespace, src.metadata.name),
      namespace: tenantNamespace,
      labels: { [OffloadingLabels.consumer]: consumerID },
      annotations: { [OffloadingAnnotations.homeNamespace]: homeNamespace, [OffloadingAnnotations.homeName]: src.metadata.name },
    },
    ...(src.data ? { data: src.data } : {}),
    ...(src.binaryData ? { binaryData: src.binaryData } : {}),
    // A service-account token Secret would be B's to fill in, with B's token: never copied as such.
    ...(kind === 'secrets' && src.type && !src.type.startsWith('kubernetes.io/service-account') ? { type: src.type } : {}),
  };
}

/** Key of a reflected object in the object reflector's queue: `<kind>/<home namespace>/<name>`. */
export const reflectedKey = (kind: ReflectedKind, homeNamespace: string, name: string) => `${kind}/${homeNamespace}/${name}`;

export function parseReflectedKey(key: string): { kind: ReflectedKind; namespace: string; name: string } | undefined {
  const [kind, namespace, ...rest] = key.split('/');
  if ((kind !== 'configmaps' && kind !== 'secrets') || !namespace || !rest.length) return undefined;
  return { kind, namespace, name: rest.join('/') };
}

/** The home object a copy on B stands for, from its annotations. */
export function homeOfCopy(copy: ReflectableObject): { namespace: string; name: string } | undefined {
  const a = copy.metadata.annotations ?? {};
  const namespace = a[OffloadingAnnotations.homeNamespace];
  const name = a[OffloadingAnnotations.homeName];
  return namespace && name ? { namespace, name } : undefined;
}

export interface ReflectedObjectObserved {
  kind: ReflectedKind;
  homeNamespace: string;
  /** The home object; absent when it was deleted. */
  home?: ReflectableObject;
  /** Our copy on B; absent when no offloaded pod needed it yet (or it was removed). */
  copy?: ReflectableObject;
}

export type ReflectedObjectAction =
  | { type: 'applyCopy'; body: ReflectableObject & { apiVersion: string; kind: string } }
  | { type: 'deleteCopy'; name: string };

/** Absent and empty are the same: the API server drops an empty map. */
const same = (a: Record<string, string> | undefined, b: Record<string, string> | undefined) => isDeepStrictEqual(a ?? {}, b ?? {});

export function planReflectedObject(o: ReflectedObjectObserved, tenantNamespace: string, consumerID: string): ReflectedObjectAction[] {
  if (!o.copy) return []; // made with the first pod that needs it (podReflector), never ahead of one
  if (!o.home || o.home.metadata.deletionTimestamp) return [{ type: 'deleteCopy', name: o.copy.metadata.name }];
  const body = reflectedObjectBody(o.kind, o.homeNamespace, o.home, tenantNamespace, consumerID);
  const typeDiffers = o.kind === 'secrets' && (body.type ?? 'Opaque') !== (o.copy.type ?? 'Opaque');
  // A Secret's type cannot change in place: the copy is made again.
  if (typeDiffers) return [{ type: 'deleteCopy', name: o.copy.metadata.name }, { type: 'applyCopy', body }];
  if (same(body.data, o.copy.data) && same(body.binaryData, o.copy.binaryData)) return [];
  return [{ type: 'applyCopy', body }];
}

import { describe, expect, it } from 'vitest';
import { homeOfCopy, parseReflectedKey, planReflectedObject, reflectedKey, reflectedObjectBody, type ReflectableObject } from '../../../src/offloading/consumer/reflectedObjects.js';
import { remoteName } from '../../../src/offloading/names.js';

const TENANT = 'liqo-tenant-a';
const A = 'a1b2c3d4-0000-4000-8000-000000000001';
const home = (data: Record<string, string>, extra: Partial<ReflectableObject> = {}): ReflectableObject => ({ metadata: { name: 'greeting', namespace: 'apps' }, data, ...extra });
const copyOf = (o: ReflectableObject, kind: 'configmaps' | 'secrets' = 'configmaps') => reflectedObjectBody(kind, 'apps', o, TENANT, A);

describe('reflected ConfigMaps and Secrets follow their home objects', () => {
  it('names the copy after the home object and its namespace, labelled with the consumer, annotated with home', () => {
    const c = copyOf(home({ msg: 'hi' }));
    expect(c.metadata.name).toBe(remoteName('apps', 'greeting'));
    expect(c.metadata.namespace).toBe(TENANT);
    expect(c.metadata.labels).toEqual({ 'offloading.kubepeer.io/consumer': A });
    expect(homeOfCopy(c)).toEqual({ namespace: 'apps', name: 'greeting' });
  });

  it('does nothing for an object no offloaded pod has needed (no copy yet)', () => {
    expect(planReflectedObject({ kind: 'configmaps', homeNamespace: 'apps', home: home({ msg: 'hi' }) }, TENANT, A)).toEqual([]);
  });

  it('does nothing while the copy matches', () => {
    const h = home({ msg: 'hi' });
    expect(planReflectedObject({ kind: 'configmaps', homeNamespace: 'apps', home: h, copy: copyOf(h) }, TENANT, A)).toEqual([]);
  });

  it('applies a change of data, binaryData or a removed key', () => {
    const old = copyOf(home({ msg: 'hi', extra: 'x' }));
    for (const changed of [home({ msg: 'hello', extra: 'x' }), home({ msg: 'hi' }), home({ msg: 'hi', extra: 'x' }, { binaryData: { b: 'AAE=' } })]) {
      const actions = planReflectedObject({ kind: 'configmaps', homeNamespace: 'apps', home: changed, copy: old }, TENANT, A);
      expect(actions).toEqual([{ type: 'applyCopy', body: copyOf(changed) }]);
    }
  });

  it('deletes the copy when the home object is deleted or being deleted', () => {
    const copy = copyOf(home({ msg: 'hi' }));
    expect(planReflectedObject({ kind: 'configmaps', homeNamespace: 'apps', copy }, TENANT, A)).toEqual([{ type: 'deleteCopy', name: copy.metadata.name }]);
    const going = home({ msg: 'hi' }, { metadata: { name: 'greeting', namespace: 'apps', deletionTimestamp: '2026-01-01T00:00:00Z' } });
    expect(planReflectedObject({ kind: 'configmaps', homeNamespace: 'apps', home: going, copy }, TENANT, A)[0]).toMatchObject({ type: 'deleteCopy' });
  });

  it('makes a Secret copy again when its type changed (immutable in place), and never copies a service-account token type', () => {
    const old = copyOf(home({ k: 'dg==' }, { type: 'Opaque' }), 'secrets');
    const tls = home({ k: 'dg==' }, { type: 'kubernetes.io/tls' });
    expect(planReflectedObject({ kind: 'secrets', homeNamespace: 'apps', home: tls, copy: old }, TENANT, A).map((a) => a.type)).toEqual(['deleteCopy', 'applyCopy']);
    expect(copyOf(home({ token: 'eA==' }, { type: 'kubernetes.io/service-account-token' }), 'secrets').type).toBeUndefined();
  });

  it('round-trips its queue keys and refuses keys of other kinds or without a name', () => {
    expect(parseReflectedKey(reflectedKey('secrets', 'apps', 'db'))).toEqual({ kind: 'secrets', namespace: 'apps', name: 'db' });
    expect(parseReflectedKey('pods/apps/x')).toBeUndefined();
    expect(parseReflectedKey('secrets/apps')).toBeUndefined();
  });
});

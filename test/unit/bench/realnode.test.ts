import { describe, expect, it } from 'vitest';
import { coldBuildSeconds } from '../../../bench/realnode.js';

describe('bench: cold build seconds from build-seconds.tsv', () => {
  it('takes the first line of each binary (the cold build) and ignores later warm rebuilds', () => {
    const tsv = 'etcd\t52\nkube-apiserver\t169\ncontainerd\t113\nctr\t3\ncontainerd\t2\nctr\t1\n';
    expect([...coldBuildSeconds(tsv)]).toEqual([
      ['etcd', 52],
      ['kube-apiserver', 169],
      ['containerd', 113],
      ['ctr', 3],
    ]);
  });

  it('skips blank and malformed lines', () => {
    expect([...coldBuildSeconds('\nkubelet\t24\ngarbage\nkube-proxy\tx\n')]).toEqual([['kubelet', 24]]);
  });
});

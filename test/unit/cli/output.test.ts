import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CliError, asList, formatList, formatObject, kindName, parseOutput, type Column } from '../../../src/cli/output.js';
import { GVR } from '../../../src/api/crds.js';
import { peerColumns, requestColumns } from '../../../src/cli/commands/peer.js';
import type { ForeignCluster } from '../../../src/api/crds.js';

const fc = (name: string, extra: Partial<ForeignCluster['spec']> = {}): ForeignCluster =>
  ({
    apiVersion: 'discovery.liqo.io/v1',
    kind: 'ForeignCluster',
    metadata: { name, creationTimestamp: '2026-01-01T00:00:00Z', managedFields: [{ manager: 'kubepeer', operation: 'Apply' }] },
    spec: { clusterID: `${name}-id`, clusterName: name, discoveryType: 'Manual', join: true, apiUrl: `https://${name}:6443`, namespace: 'liqo', allowUntrustedCA: false, ...extra },
    status: { trustMode: 'Pinned', outgoing: { phase: 'Established', message: 'peered' }, incoming: { phase: 'None' } },
  }) as unknown as ForeignCluster;

const printer = { columns: peerColumns, resource: kindName(GVR.foreignCluster), empty: 'No peers yet.' };
const items = [fc('alpha'), fc('beta')];

describe('list output', () => {
  it('-o json prints a kubectl List without managedFields', () => {
    const out = JSON.parse(formatList(parseOutput('json'), items, printer).stdout);
    expect(out.apiVersion).toBe('v1');
    expect(out.kind).toBe('List');
    expect(out.items.map((i: ForeignCluster) => i.metadata.name)).toEqual(['alpha', 'beta']);
    expect(out.items[0].metadata).not.toHaveProperty('managedFields');
    expect(out.items[0].metadata.creationTimestamp).toBe('2026-01-01T00:00:00Z');
  });

  it('-o yaml prints the same List, with keys in kubectl order', () => {
    const text = formatList(parseOutput('yaml'), items, printer).stdout;
    expect(text.startsWith('apiVersion: v1\nitems:\n')).toBe(true);
    expect(text).not.toContain('managedFields');
    expect(parse(text)).toEqual(asList(items));
  });

  it('-o json of nothing is an empty List, not a message', () => {
    expect(formatList(parseOutput('json'), [], printer)).toEqual({ stdout: JSON.stringify(asList([]), null, 2) + '\n', stderr: '' });
  });

  it('-o name prints <kind>.<group>/<name> per line', () => {
    expect(formatList(parseOutput('name'), items, printer).stdout).toBe('foreigncluster.discovery.liqo.io/alpha\nforeigncluster.discovery.liqo.io/beta\n');
  });

  it('-o jsonpath runs against the List', () => {
    expect(formatList(parseOutput('jsonpath={.items[*].spec.clusterID}'), items, printer).stdout).toBe('alpha-id beta-id');
  });

  it('-o wide adds the wide columns to the table', () => {
    const [narrowHeader] = formatList(parseOutput('table'), items, printer).stdout.split('\n');
    const [wideHeader, wideRow] = formatList(parseOutput('wide'), items, printer).stdout.split('\n');
    expect(narrowHeader).not.toContain('API URL');
    expect(wideHeader).toMatch(/NODE READY\s+API URL\s+MESSAGE/);
    expect(wideRow).toContain('https://alpha:6443');
  });

  it('says there is nothing on stderr, leaving stdout empty', () => {
    expect(formatList(parseOutput('table'), [], printer)).toEqual({ stdout: '', stderr: 'No peers yet.\n' });
  });

  it('the peer requests table has one NAME-like column per meaning', () => {
    const headers = requestColumns.map((c: Column<never>) => c.header.toUpperCase());
    expect(headers.filter((h) => h === 'NAME')).toHaveLength(0);
    expect(headers).toContain('CLUSTER NAME');
  });
});

describe('object output', () => {
  it('-o yaml of one object hides managedFields', () => {
    const text = formatObject(parseOutput('yaml'), fc('alpha'), { resource: kindName(GVR.foreignCluster), text: () => 'x' });
    expect(parse(text).metadata).toEqual({ name: 'alpha', creationTimestamp: '2026-01-01T00:00:00Z' });
  });

  it('-o name is refused for output that is no Kubernetes object', () => {
    expect(() => formatObject(parseOutput('name'), { clusterID: 'x' }, { text: () => 'x' })).toThrow(CliError);
  });

  it('table and wide print the text for a person, ending in one newline', () => {
    expect(formatObject(parseOutput('table'), {}, { text: () => 'hello' })).toBe('hello\n');
    expect(formatObject(parseOutput('wide'), {}, { text: () => 'hello\n' })).toBe('hello\n');
  });
});

describe('-o parsing', () => {
  it('refuses unknown formats and empty or broken jsonpath templates with exit code 2', () => {
    for (const bad of ['xml', 'jsonpath', 'jsonpath=', 'jsonpath={.items[*]']) {
      let err: unknown;
      try {
        parseOutput(bad);
      } catch (e) {
        err = e;
      }
      expect(err, bad).toBeInstanceOf(CliError);
      expect((err as CliError).exitCode, bad).toBe(2);
    }
  });
});

import { describe, expect, it } from 'vitest';
import { executeJsonPath, JsonPathError, parseJsonPath } from '../../../src/cli/jsonpath.js';

const list = {
  apiVersion: 'v1',
  kind: 'List',
  items: [
    {
      metadata: { name: 'alpha', labels: { 'discovery.liqo.io/cluster-id': 'a-id' }, annotations: { 'kubepeer.io/x.y': 'dotted' } },
      spec: { clusterID: 'a-id', join: true, ports: [1, 2, 3, 4] },
      status: { outgoing: { phase: 'Established' }, conditions: [{ type: 'Reachable', status: 'True' }, { type: 'VirtualNodeReady', status: 'False' }] },
    },
    {
      metadata: { name: 'beta' },
      spec: { clusterID: 'b-id', join: false, ports: [] },
      status: { outgoing: { phase: 'None' }, conditions: [{ type: 'VirtualNodeReady', status: 'True' }] },
    },
  ],
};

const run = (template: string, data: unknown = list) => executeJsonPath(parseJsonPath(template), data);

describe('kubectl jsonpath templates', () => {
  it('joins the results of one expression with a space, as kubectl does', () => {
    expect(run('{.items[*].metadata.name}')).toBe('alpha beta');
  });

  it('repeats the text between {range} and {end} for each result, with quoted escapes', () => {
    expect(run('{range .items[*]}{.metadata.name}{"\\t"}{.status.outgoing.phase}{"\\n"}{end}')).toBe('alpha\tEstablished\nbeta\tNone\n');
  });

  it('keeps literal text outside braces and adds no newline at the end', () => {
    expect(run('first={.items[0].metadata.name}')).toBe('first=alpha');
  });

  it('reads keys with dashes, slashes and escaped dots, and bracketed keys', () => {
    expect(run('{.items[0].metadata.labels.discovery\\.liqo\\.io/cluster-id}')).toBe('a-id');
    expect(run("{.items[0].metadata.labels['discovery.liqo.io/cluster-id']}")).toBe('a-id');
    expect(run('{.items[0].metadata.annotations.kubepeer\\.io/x\\.y}')).toBe('dotted');
    expect(run('{.data.cluster-id}', { data: { 'cluster-id': 'ff5aa14a' } })).toBe('ff5aa14a');
  });

  it('indexes from the end with negative numbers and slices like kubectl', () => {
    expect(run('{.items[-1].metadata.name}')).toBe('beta');
    expect(run('{.items[0].spec.ports[1:3]}')).toBe('2 3');
    expect(run('{.items[0].spec.ports[::2]}')).toBe('1 3');
    expect(run('{.items[0].spec.ports[0,3]}')).toBe('1 4');
  });

  it('filters by comparison with strings, numbers and booleans, and by presence', () => {
    expect(run('{.items[?(@.spec.join==true)].metadata.name}')).toBe('alpha');
    expect(run('{.items[?(@.spec.clusterID!="a-id")].metadata.name}')).toBe('beta');
    expect(run('{.items[0].spec.ports[?(@>2)]}')).toBe('3 4');
    expect(run('{.items[?(@.metadata.labels)].metadata.name}')).toBe('alpha');
    expect(run("{range .items[*]}{.status.conditions[?(@.type=='VirtualNodeReady')].status} {end}")).toBe('False True ');
  });

  it('descends recursively and expands wildcards on objects', () => {
    expect(run('{..phase}')).toBe('Established None');
    expect(run('{.items[0].status.outgoing.*}')).toBe('Established');
  });

  it('prints objects and arrays as JSON, numbers and booleans as text, and nothing for a missing key', () => {
    expect(run('{.items[0].status.outgoing}')).toBe('{"phase":"Established"}');
    expect(run('{.items[1].spec.ports}')).toBe('[]');
    expect(run('{.items[0].spec.join} {.items[0].spec.ports[0]}')).toBe('true 1');
    expect(run('[{.items[0].spec.nothing}]')).toBe('[]');
  });

  it('prints the current object for {.} and {@}', () => {
    expect(run('{range .items[*].metadata.name}<{.}>{end}')).toBe('<alpha><beta>');
    expect(run('{@}', 'x')).toBe('x');
  });

  it('refuses templates kubectl would refuse, saying what is wrong', () => {
    expect(() => parseJsonPath('{.items[*]')).toThrow(JsonPathError);
    expect(() => parseJsonPath('{range .items[*]}{.a}')).toThrow(/range.*without \{end\}/);
    expect(() => parseJsonPath('{.a}{end}')).toThrow(/\{end\} without \{range\}/);
    expect(() => parseJsonPath('{items}')).toThrow(/starts with "\."/);
    expect(() => parseJsonPath('{.items[?(@.name=~/a/)]}')).toThrow(/regular-expression/);
    expect(() => parseJsonPath('{.items[x]}')).toThrow(/not an index/);
  });
});

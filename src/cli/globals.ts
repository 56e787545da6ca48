import type { Command } from 'commander';
import { KubeClient } from '../k8s/rest.js';
import { parseOutput, type OutputFormat } from './output.js';
import { LIQO_NAMESPACE } from '../api/constants.js';

export interface GlobalOptions {
  kubeconfig?: string;
  context?: string;
  namespace: string;
  output: OutputFormat;
}

export function globals(cmd: Command): GlobalOptions {
  const o = cmd.optsWithGlobals() as { kubeconfig?: string; context?: string; namespace?: string; output?: string };
  return { kubeconfig: o.kubeconfig, context: o.context, namespace: o.namespace ?? LIQO_NAMESPACE, output: parseOutput(o.output) };
}

export function clientFor(g: GlobalOptions): KubeClient {
  return KubeClient.fromFile(g.kubeconfig, g.context);
}

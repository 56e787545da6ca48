import type { Command } from 'commander';
import { KubeClient } from '../k8s/rest.js';
import { CliError, parseOutput, type Output } from './output.js';
import { LIQO_NAMESPACE } from '../api/constants.js';

export interface GlobalOptions {
  kubeconfig?: string;
  context?: string;
  namespace: string;
  output: Output;
}

/**
 * The global flags as the command sees them. A command that prints no Kubernetes object passes
 * `printsObjects: false`, so `-o name` is refused before it changes anything.
 */
export function globals(cmd: Command, opts: { printsObjects?: boolean } = {}): GlobalOptions {
  const o = cmd.optsWithGlobals() as { kubeconfig?: string; context?: string; namespace?: string; output?: string };
  const output = parseOutput(o.output);
  if (output.format === 'name' && opts.printsObjects === false) {
    throw new CliError(`"${commandPath(cmd)}" prints no Kubernetes object, so -o name does not apply: use table, wide, json, yaml or jsonpath=...`, 2);
  }
  return { kubeconfig: o.kubeconfig, context: o.context, namespace: o.namespace ?? LIQO_NAMESPACE, output };
}

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/**
 * Runs `fn` with a client for the cluster the global flags name, and closes the client however
 * `fn` ends (its keep-alive sockets would otherwise hold the process open after an error).
 */
export async function withClient<T>(g: Pick<GlobalOptions, 'kubeconfig' | 'context'>, fn: (client: KubeClient) => Promise<T>): Promise<T> {
  const client = KubeClient.fromFile(g.kubeconfig, g.context);
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

/** A `--timeout <seconds>` value, refused unless it is a positive number. */
export function seconds(value: string, flag = '--timeout'): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new CliError(`${flag} must be a number of seconds, not "${value}"`, 2);
  return n;
}

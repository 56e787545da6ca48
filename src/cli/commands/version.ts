import type { Command } from 'commander';
import { printObject } from '../output.js';
import { globals } from '../globals.js';
import { versionInfo } from '../version.js';

export function registerVersionCommand(program: Command): void {
  program
    .command('version')
    .description('Print the kubepeer version and the Kubernetes release it is built and tested against.')
    .addHelpText('after', '\nExamples:\n  kubepeer version\n  kubepeer version -o json\n  kubepeer version -o jsonpath=\'{.kubernetesVersion}\'')
    .action((_o: unknown, cmd: Command) => {
      const g = globals(cmd, { printsObjects: false });
      const v = versionInfo();
      printObject(g.output, v, {
        text: () =>
          [
            `kubepeer:    ${v.kubepeerVersion}`,
            `Kubernetes:  ${v.kubernetesVersion ?? 'unknown (tools/controlplane/go.mod is not installed)'}`,
            `Node.js:     ${v.nodeVersion}`,
          ].join('\n'),
      });
    });
}

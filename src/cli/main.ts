/**
 * kubepeer CLI (also installed as kubectl-peer, so `kubectl peer ...` works). Commands are thin:
 * they parse flags, call the same library functions the agent uses, and print with one printer.
 */
import { Command, CommanderError } from 'commander';
import { CliError, OUTPUT_HELP } from './output.js';
import { versionInfo } from './version.js';
import { registerClusterCommands } from './commands/cluster.js';
import { registerLocalCommands } from './commands/local.js';
import { registerPeerCommands } from './commands/peer.js';
import { registerDnsDiscoveryCommands } from './commands/dns.js';
import { registerDemoCommands } from './commands/demo.js';
import { registerOffloadCommands } from './commands/offload.js';
import { registerStatusCommand } from './commands/status.js';
import { registerVersionCommand } from './commands/version.js';
import { registerPluginCommands } from './commands/plugin.js';
import { registerDashboardCommands } from './commands/dashboard.js';
import { LIQO_NAMESPACE } from '../api/constants.js';
import { ApiError } from '../k8s/rest.js';

export function buildProgram(argv0 = 'kubepeer'): Command {
  const asPlugin = /kubectl-peer/.test(argv0);
  const v = versionInfo();
  const program = new Command(asPlugin ? 'kubectl peer' : 'kubepeer')
    .description('Kubernetes clusters that find each other (LAN mDNS, DNS-SD, manual) and peer, ending in a virtual node per peer.')
    .version(`kubepeer ${v.kubepeerVersion} (Kubernetes ${v.kubernetesVersion ?? 'unknown'})`, '--version', 'print the kubepeer version and exit')
    .option('--kubeconfig <path>', 'kubeconfig file (default: $KUBECONFIG or ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context to use')
    .option('-n, --namespace <ns>', 'kubepeer agent namespace', LIQO_NAMESPACE)
    .option('-o, --output <format>', OUTPUT_HELP, 'table')
    // Subcommands inherit this (commander copies help settings to each command it creates), so
    // `kubepeer peer add --help` shows --kubeconfig, --context, -n and -o too, as kubectl does.
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();
  registerClusterCommands(program);
  registerLocalCommands(program);
  registerPeerCommands(program);
  registerDnsDiscoveryCommands(program);
  registerOffloadCommands(program);
  registerStatusCommand(program);
  registerVersionCommand(program);
  registerPluginCommands(program);
  registerDashboardCommands(program);
  registerDemoCommands(program);
  return program;
}

export async function main(argv = process.argv): Promise<void> {
  // KUBEPEER_ARGV0: set by the kubectl-peer script of `kubepeer plugin install`, which runs bin/kubepeer.js.
  const argv0 = process.env.KUBEPEER_ARGV0 ?? argv[1] ?? '';
  const program = buildProgram(argv0);
  try {
    await program.parseAsync(/kubectl-peer/.test(argv0) ? pluginArgv(program, argv) : argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    const err = e as Error;
    const reason = e instanceof ApiError ? ` (${e.reason})` : '';
    process.stderr.write(`error: ${err.message}${reason}\n`);
    process.exitCode = e instanceof CliError ? e.exitCode : 1;
  }
}

/** Global options that take a value in the next argument (when not written --opt=value). */
const VALUE_OPTIONS = new Set(['--kubeconfig', '--context', '-n', '--namespace', '-o', '--output']);

/**
 * As kubectl's plugin, `kubectl peer list` runs `kubepeer peer list`: a first word that is a
 * subcommand of `peer` and not a top-level command gets `peer` put before it. Everything else
 * (`kubectl peer status`, `kubectl peer domain list`) runs as kubepeer's own command.
 */
export function pluginArgv(program: Command, argv: string[]): string[] {
  const args = argv.slice(2);
  let i = 0;
  while (i < args.length && args[i]!.startsWith('-')) i += VALUE_OPTIONS.has(args[i]!) ? 2 : 1;
  const word = args[i];
  const names = (c: Command) => [c.name(), ...c.aliases()];
  if (word === undefined || program.commands.some((c) => names(c).includes(word))) return argv;
  const peer = program.commands.find((c) => c.name() === 'peer');
  if (!peer?.commands.some((c) => names(c).includes(word))) return argv;
  return [...argv.slice(0, 2), ...args.slice(0, i), 'peer', ...args.slice(i)];
}

/**
 * `kubepeer plugin install`: puts an executable `kubectl-peer` on PATH so that `kubectl peer ...`
 * works (kubectl runs any `kubectl-<name>` executable it finds on PATH as `kubectl <name>`).
 */
import type { Command } from 'commander';
import { accessSync, chmodSync, constants, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliError, printObject } from '../output.js';
import { globals } from '../globals.js';

export const PLUGIN_NAME = 'kubectl-peer';
const cliEntry = fileURLToPath(new URL('../../../bin/kubepeer.js', import.meta.url));

/** Where the plugin goes without --dir, and whether that folder is on PATH (else: a hint). */
export function choosePluginDir(pathEnv: string, home: string, writable: (dir: string) => boolean): { dir: string; onPath: boolean } {
  const onPath = pathEnv.split(delimiter).filter(Boolean).map((d) => resolve(d));
  if (onPath.includes('/usr/local/bin') && writable('/usr/local/bin')) return { dir: '/usr/local/bin', onPath: true };
  const local = join(home, '.local', 'bin');
  return { dir: local, onPath: onPath.includes(resolve(local)) };
}

/**
 * The plugin: a shell script that runs this checkout's CLI with the node that installed it (so it
 * works where `node` is not on PATH, e.g. under sudo), and tells it that it runs as the plugin
 * (help and messages then say "kubectl peer").
 */
export function pluginScript(nodePath: string, entry: string): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return `#!/bin/sh\n# kubectl peer: written by "kubepeer plugin install"; runs ${entry}\nKUBEPEER_ARGV0=${PLUGIN_NAME} exec ${q(nodePath)} ${q(entry)} "$@"\n`;
}

function isWritable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

export function installPlugin(dir: string): { path: string; replaced: boolean } {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, PLUGIN_NAME);
  const script = pluginScript(process.execPath, cliEntry);
  const replaced = existsSync(path);
  if (replaced && readFileSync(path, 'utf8') === script) return { path, replaced: false };
  // Written beside and renamed: a kubectl running the old plugin never sees half a file.
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, script);
  chmodSync(tmp, 0o755);
  renameSync(tmp, path);
  return { path, replaced };
}

export function registerPluginCommands(program: Command): void {
  const plugin = program.command('plugin').description('The kubectl plugin: "kubectl peer ..." runs kubepeer.');
  plugin
    .command('install')
    .description(`Put an executable ${PLUGIN_NAME} on PATH so that "kubectl peer ..." works (default: /usr/local/bin when writable, else ~/.local/bin).`)
    .option('--dir <dir>', 'folder to put it in (should be on PATH)')
    .addHelpText('after', '\nExamples:\n  kubepeer plugin install\n  kubectl plugin list\n  kubectl peer list')
    .action((opts: { dir?: string }, cmd: Command) => {
      const g = globals(cmd, { printsObjects: false });
      const pathEnv = process.env.PATH ?? '';
      const chosen = opts.dir ? { dir: resolve(opts.dir), onPath: pathEnv.split(delimiter).filter(Boolean).map((d) => resolve(d)).includes(resolve(opts.dir)) } : choosePluginDir(pathEnv, homedir(), isWritable);
      let installed;
      try {
        installed = installPlugin(chosen.dir);
      } catch (e) {
        throw new CliError(`cannot write ${join(chosen.dir, PLUGIN_NAME)}: ${(e as Error).message}; choose another folder with --dir`);
      }
      const hint = chosen.onPath ? null : `${chosen.dir} is not on PATH, so kubectl will not find the plugin: add it (export PATH="${chosen.dir}:$PATH", e.g. in ~/.profile)`;
      printObject(g.output, { path: installed.path, onPath: chosen.onPath, ...(hint ? { hint } : {}) }, {
        text: () => `installed ${installed.path}; try: kubectl peer list`,
      });
      if (hint) process.stderr.write(`note: ${hint}\n`);
    });
}

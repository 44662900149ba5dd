/**
 * The `rlhf` command line: the same core the extension's engine uses, run in-process.
 * Exit codes: 0 ok, 1 the command failed, 2 wrong usage.
 */
import { errorMessage } from '../protocol/guards';
import { parseArgs } from 'node:util';
import type { CliCommand, CliIo } from './command';
import { UsageError } from './command';
import { COMMANDS } from './commands/index';
import { isAbortError, isUserError } from '../core/errors';

function findCommand(argv: readonly string[]): { command: CliCommand; rest: string[] } | undefined {
  let best: { command: CliCommand; rest: string[] } | undefined;
  for (const command of COMMANDS) {
    const n = command.name.length;
    if (argv.length >= n && command.name.every((w, i) => argv[i] === w) && (!best || n > best.command.name.length)) {
      best = { command, rest: argv.slice(n) };
    }
  }
  return best;
}

export function usageOf(command: CliCommand): string {
  return `usage: rlhf ${command.name.join(' ')} ${command.usage}`.trimEnd() + `\n\n${command.summary}` + (command.help ? `\n\n${command.help}` : '');
}

export function mainUsage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.join(' ').length));
  const lines = COMMANDS.map((c) => `  ${c.name.join(' ').padEnd(width)}  ${c.summary}`);
  return ['usage: rlhf <command> [flags]', '', 'commands:', ...lines, '', 'Run `rlhf <command> --help` for its flags.'].join('\n');
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    (argv.length === 0 ? io.err : io.out)(mainUsage());
    return argv.length === 0 ? 2 : 0;
  }
  const found = findCommand(argv);
  if (!found) {
    io.err(
      `rlhf: unknown command '${argv
        .filter((a) => !a.startsWith('-'))
        .slice(0, 2)
        .join(' ')}'.\n\n${mainUsage()}`,
    );
    return 2;
  }
  const { command, rest } = found;
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(usageOf(command));
    return 0;
  }
  try {
    const parsed = parseArgs({ args: rest, options: command.options, strict: true, allowPositionals: command.positionals ?? false });
    return await command.run(parsed.values, parsed.positionals, io);
  } catch (err) {
    if (err instanceof UsageError || (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))) {
      io.err(`rlhf ${command.name.join(' ')}: ${errorMessage(err)}\n\n${usageOf(command)}`);
      return 2;
    }
    if (isAbortError(err)) {
      io.err('Cancelled.');
      return 130;
    }
    if (isUserError(err)) {
      io.err(`rlhf ${command.name.join(' ')}: ${err.message}`);
      return 1;
    }
    throw err;
  }
}

/** Entry point of the bundled CLI (bin/rlhf.js). */
export function cliMain(): void {
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  const io: CliIo = {
    out: (t) => process.stdout.write(t.endsWith('\n') ? t : t + '\n'),
    err: (t) => process.stderr.write(t.endsWith('\n') ? t : t + '\n'),
    cwd: process.cwd(),
    signal: controller.signal,
  };
  runCli(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`rlhf: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}

if (require.main === module) cliMain();

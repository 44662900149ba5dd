/** Every `rlhf` subcommand, in the order `rlhf --help` lists them. Add new commands here. */
import type { CliCommand } from '../command';
import { statusCommand } from './status';

export const COMMANDS: readonly CliCommand[] = [statusCommand];

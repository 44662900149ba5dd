/** Every `rlhf` subcommand, in the order `rlhf --help` lists them. Add new commands here. */
import type { CliCommand } from '../command';
import { statusCommand } from './status';
import { sampleCommand } from './sample';
import { exportOnnxCommand } from './exportOnnx';
import { modelInfoCommand } from './modelInfo';

export const COMMANDS: readonly CliCommand[] = [statusCommand, modelInfoCommand, sampleCommand, exportOnnxCommand];

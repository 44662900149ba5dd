/** Every `rlhf` subcommand, in the order `rlhf --help` lists them. Add new commands here. */
import type { CliCommand } from '../command';
import { statusCommand } from './status';
import { sampleCommand } from './sample';
import { exportOnnxCommand } from './exportOnnx';
import { exportModelCommand } from './exportModel';
import { modelInfoCommand } from './modelInfo';
import { modelInitCommand } from './modelInit';
import { modelPullCommand } from './modelPull';
import { trainCommands } from './train';
import { runsCommand } from './runs';
import { demoCommand } from './demo';
import { initCommand } from './init';
import { importPromptsCommand } from './importPrompts';
import { importPreferencesCommand } from './importPreferences';
import { exportPreferencesCommand } from './exportPreferences';
import { statsCommand } from './stats';

export const COMMANDS: readonly CliCommand[] = [
  statusCommand,
  modelInfoCommand,
  modelInitCommand,
  modelPullCommand,
  sampleCommand,
  exportOnnxCommand,
  exportModelCommand,
  initCommand,
  importPromptsCommand,
  importPreferencesCommand,
  exportPreferencesCommand,
  statsCommand,
  ...trainCommands,
  runsCommand,
  demoCommand,
];

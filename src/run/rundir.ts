/**
 * The run directory: `<out>/<name>-<config hash>/`, so the same config always
 * maps to the same directory (running it again resumes). It holds the
 * normalized config, an append-only `events.jsonl`, every phase's masks,
 * candidate and soup checkpoints, and `results.json` / `results.csv`.
 */
import { mkdirSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { appendLineDurable, writeFileAtomic, readJsonFile } from '../io/atomic.js';
import { configHash, normalizedConfigJson, parseSmsConfig, type SmsConfig } from '../sms/config.js';
import { runLayout } from '../sms/layout.js';
import { ConfigError, DataFormatError } from '../util/errors.js';

export interface RunDir {
  path: string;
  config: SmsConfig;
  appendEvent(event: Record<string, unknown>): Promise<void>;
}

/** A run name as it goes into a directory name: anything but letters, digits, '.', '_' and '-' becomes '_'. */
export function safeRunName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '_');
}

export function runDirPath(config: SmsConfig, outRoot: string): string {
  return resolve(outRoot, `${safeRunName(config.name)}-${configHash(config)}`);
}

function open(path: string, config: SmsConfig): RunDir {
  const events = runLayout(path).events;
  return {
    path,
    config,
    appendEvent: (event) => appendLineDurable(events, JSON.stringify({ time: new Date().toISOString(), ...event })),
  };
}

/**
 * Creates (or reopens) the run directory of a config and records the
 * normalized config. A config with `seeds` is several runs, not one: it is
 * refused here (run it with runReplicates, src/run/replicates.ts).
 */
export async function createRunDir(config: SmsConfig, outRoot: string): Promise<RunDir> {
  if (config.seeds !== null) {
    throw new ConfigError(
      'seeds',
      `a config with seeds [${config.seeds.join(', ')}] is one run per seed: run it with runReplicates (src/run/replicates.ts) or \`sparse-soups run\`, not as a single run`,
    );
  }
  const path = runDirPath(config, outRoot);
  mkdirSync(path, { recursive: true });
  const configFile = runLayout(path).config;
  if (!existsSync(configFile)) await writeFileAtomic(configFile, JSON.stringify(JSON.parse(normalizedConfigJson(config)), null, 2) + '\n');
  return open(path, config);
}

/** Reopens an existing run directory from its recorded config. */
export async function openRunDir(path: string): Promise<RunDir> {
  const configFile = runLayout(path).config;
  if (!existsSync(configFile)) throw new DataFormatError(configFile, `not found: ${path} is not a sparse-soups run directory`);
  const config = parseSmsConfig(await readJsonFile(configFile), configFile);
  return open(resolve(path), config);
}

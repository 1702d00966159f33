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
import { DataFormatError } from '../util/errors.js';

export interface RunDir {
  path: string;
  config: SmsConfig;
  appendEvent(event: Record<string, unknown>): Promise<void>;
}

export function runDirPath(config: SmsConfig, outRoot: string): string {
  const safeName = config.name.replace(/[^A-Za-z0-9._-]+/g, '_');
  return resolve(outRoot, `${safeName}-${configHash(config)}`);
}

function open(path: string, config: SmsConfig): RunDir {
  const events = runLayout(path).events;
  return {
    path,
    config,
    appendEvent: (event) => appendLineDurable(events, JSON.stringify({ time: new Date().toISOString(), ...event })),
  };
}

/** Creates (or reopens) the run directory of a config and records the normalized config. */
export async function createRunDir(config: SmsConfig, outRoot: string): Promise<RunDir> {
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

import { z } from 'zod';
import { section } from '../config/sections.ts';
import { SigmaConfig } from './sigma/config.ts';

/** `detect`: the built-in detectors' settings (upstream verdicts, Sigma). */
export const DetectConfig = z
  .strictObject({
    upstream_min_severity: z
      .enum(['informational', 'low', 'medium', 'high', 'critical'])
      .default('medium')
      .describe('Least severity of an upstream verdict (Wazuh, Suricata, GuardDuty) that raises an alert'),
    sigma: section(SigmaConfig),
  })
  .describe('Detection');
export type DetectConfig = z.infer<typeof DetectConfig>;

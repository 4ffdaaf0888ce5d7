/** The `alerts:` block. Filled in by the alerting layer; until then any value is rejected except absence. */
import { z } from 'zod';

export const alertsSchema = z.strictObject({});
export type AlertsConfig = z.output<typeof alertsSchema>;

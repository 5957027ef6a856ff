import { z } from 'zod';
import { AisocError } from '../errors.ts';

/** What the state machine is started with (the detection function starts it per changed incident). */
export const TriageInput = z.object({
  subject: z.strictObject({
    type: z.literal('incident'),
    id: z.uuid(),
  }),
});
export type TriageInput = z.infer<typeof TriageInput>;

/** Parse a state's input with a schema; bad input is `AISOC_ERR_VALIDATION` naming the field. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const r = schema.safeParse(input);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new AisocError('AISOC_ERR_VALIDATION', `Bad state input: ${issue?.message ?? 'invalid'}`, {
      field: issue?.path.join('.') || 'input',
    });
  }
  return r.data;
}

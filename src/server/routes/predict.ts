import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AisocError } from '../../errors.ts';
import { Timestamp } from '../../schema/common.ts';
import { NormalisedEvent } from '../../schema/event.ts';
import type { ServerDeps } from '../deps.ts';
import { ErrorBody } from './common.ts';

/** A feature vector: finite numbers only (JSON has no NaN; strings such as "Infinity" are refused by type). */
const Features = z
  .array(z.number())
  .min(1)
  .max(10_000)
  .describe("Feature vector, in the order of the model's feature set");
const ModelName = z
  .string()
  .min(1)
  .max(200)
  .optional()
  .describe('Model to use (GET /models); default: the configured default model');

const Probabilities = z.record(z.string(), z.number()).describe('Probability of every class');
const PredictionBody = z.object({
  prediction: z.string().describe('The most probable class'),
  confidence: z.number().describe('Its probability'),
  probabilities: Probabilities,
});
const Timing = {
  model_used: z.string(),
  inference_time_ms: z.number(),
  timestamp: Timestamp,
};

const ModelInfo = z.object({
  name: z.string(),
  algorithm: z.string(),
  feature_set: z.string().nullable(),
  feature_set_version: z.number().nullable(),
  n_features: z.number(),
  labels: z.array(z.string()),
  negative_label: z.string().nullable(),
  threshold: z.number(),
  detect: z.boolean().describe('Whether the model scores pipeline events'),
  default: z.boolean(),
  trees: z.number(),
  test_metrics: z
    .object({ macro_f1: z.number(), accuracy: z.number(), false_positive_rate: z.number().nullable() })
    .nullable()
    .describe('Held-out metrics recorded at training time'),
  data_fingerprint: z.string().nullable(),
});

/**
 * The model API, compatible with the system this replaces (DESIGN §2).
 * GET /models needs `read`. The predict routes need `analyst`: they spend
 * CPU per call and let a caller probe the models' decision boundaries at
 * will (the first step of model extraction or evasion), which read-only
 * dashboards and ingest keys have no need for.
 */
export function predictRoutes(deps: ServerDeps): FastifyPluginAsyncZod {
  const ml = () => {
    const svc = deps.runtime.ml;
    if (!svc)
      throw new AisocError(
        'AISOC_ERR_MODEL_NOT_FOUND',
        'Machine learning is disabled (ml.enabled is false).',
        {
          field: 'model_name',
        },
      );
    return svc;
  };
  return async (app) => {
    app.get(
      '/models',
      {
        config: { scope: 'read' },
        schema: {
          summary: 'The models served, with their feature sets, classes and held-out metrics',
          tags: ['ml'],
          response: { 200: z.object({ models: z.array(ModelInfo), default_model: z.string().nullable() }) },
        },
      },
      async () => {
        const svc = deps.runtime.ml;
        return { models: svc?.list() ?? [], default_model: svc?.defaultModel ?? null };
      },
    );

    app.post(
      '/predict',
      {
        config: { scope: 'analyst' },
        schema: {
          summary: 'Score one feature vector',
          tags: ['ml'],
          // Fields the seed's clients send beside these are ignored, as the seed (pydantic) ignores them.
          body: z.object({ features: Features, model_name: ModelName }),
          response: { 200: PredictionBody.extend(Timing), 400: ErrorBody, 404: ErrorBody },
        },
      },
      async (req) => ml().predict(req.body.features, req.body.model_name),
    );

    app.post(
      '/predict/batch',
      {
        config: { scope: 'analyst' },
        schema: {
          summary: 'Score up to 1,000 feature vectors with one model',
          tags: ['ml'],
          body: z.object({
            features: z.array(Features).min(1).max(1000).describe('Feature vectors (at most 1,000)'),
            model_name: ModelName,
          }),
          response: {
            200: z.object({ predictions: z.array(PredictionBody), count: z.number(), ...Timing }),
            400: ErrorBody,
            404: ErrorBody,
          },
        },
      },
      async (req) => ml().predictBatch(req.body.features, req.body.model_name),
    );

    app.post(
      '/predict/event',
      {
        config: { scope: 'analyst' },
        schema: {
          summary:
            'Score a normalised event: its features are computed server-side by the feature set the model was trained with',
          tags: ['ml'],
          body: z.strictObject({
            event: NormalisedEvent.partial()
              .extend({ time: Timestamp })
              .describe('A normalised event (as GET /events returns); only time is required'),
            model_name: ModelName.describe(
              'Model to use; default: every model whose feature set describes the event',
            ),
          }),
          response: {
            200: z.object({
              results: z.array(
                PredictionBody.extend(Timing).extend({
                  feature_set: z.string(),
                  features: z.array(z.number()).describe('The vector computed from the event'),
                }),
              ),
            }),
            400: ErrorBody,
            404: ErrorBody,
            422: ErrorBody,
          },
        },
      },
      async (req) => ({
        results: ml().predictEvent(
          { raw: undefined, ...req.body.event } as Parameters<ReturnType<typeof ml>['predictEvent']>[0],
          req.body.model_name,
        ),
      }),
    );
  };
}

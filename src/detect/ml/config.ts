/** The `ml` section of the configuration: which models are served and how they detect. */
import { z } from 'zod';

export const MlModelConfig = z
  .strictObject({
    path: z
      .string()
      .min(1)
      .describe('Model file: our .aisoc-model, or an XGBoost JSON model (save_model to .json)'),
    format: z
      .enum(['auto', 'aisoc', 'xgboost'])
      .default('auto')
      .describe('File format; auto recognises XGBoost JSON by its content'),
    feature_set: z
      .string()
      .optional()
      .describe(
        'Feature set the model reads: required to score events with an XGBoost model, checked against ours',
      ),
    labels: z
      .array(z.string())
      .optional()
      .describe('Class names in class-index order (XGBoost models store none)'),
    negative_label: z
      .string()
      .optional()
      .describe('The benign class (XGBoost models); every other class can raise a detection'),
    threshold: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .describe('Least probability of "not benign" that raises a detection; default ml.threshold'),
    detect: z.boolean().default(true).describe('Score pipeline events with this model'),
  })
  .describe('One served model');
export type MlModelConfig = z.infer<typeof MlModelConfig>;

export const MlConfig = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Load models, serve /predict and score pipeline events'),
    use_default_models: z
      .boolean()
      .default(true)
      .describe('Also serve every model file in models_dir (the repository ships one per feature set)'),
    models_dir: z
      .string()
      .optional()
      .describe("Directory of default models (*.aisoc-model); default: the repository's models/ folder"),
    models: z
      .record(z.string(), MlModelConfig)
      .default({})
      .describe(
        'Models to serve, by name (the name /predict takes as model_name); these override defaults of the same name',
      ),
    default_model: z
      .string()
      .optional()
      .describe('Model /predict uses when the request names none; default: the cicflowmeter model'),
    threshold: z
      .number()
      .min(0)
      .max(1)
      .default(0.8)
      .describe('Least probability of "not benign" that turns a score into a detection'),
    min_detect_macro_f1: z
      .number()
      .min(0)
      .max(1)
      .default(0.9)
      .describe(
        'A default model detects in the pipeline only if its held-out macro-F1 (recorded at training) reaches this; weaker ones serve /predict only. Models configured in ml.models follow their own detect setting',
      ),
    state_persist_interval_ms: z
      .number()
      .int()
      .min(0)
      .default(30_000)
      .describe('How often behavioural feature state is saved to the store (0: only at shutdown)'),
  })
  .describe('Machine-learning models: serving and pipeline detection');
export type MlConfig = z.infer<typeof MlConfig>;

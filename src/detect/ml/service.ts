/**
 * The models a runtime serves: loaded once at start-up from configuration
 * (and the repository's default models), used by the /predict routes and by
 * the pipeline detector. Feature vectors of events are computed here with
 * the feature sets' own `fromEvent` — the code training used.
 */
import { existsSync, readdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { PRODUCT_ROOT } from '../../content.ts';
import { AisocError, describeError } from '../../errors.ts';
import type { SeverityName } from '../../schema/common.ts';
import type { EventDraft, NormalisedEvent } from '../../schema/event.ts';
import type { Store } from '../../store/index.ts';
import type { Metrics } from '../../telemetry/metrics.ts';
import { type AlertCandidate, type Detector, type DetectorRule, lintOf } from '../types.ts';
import type { MlConfig, MlModelConfig } from './config.ts';
import { BehaviourState } from './features/cloudtrail-behavioral.ts';
import { featureSet } from './features/index.ts';
import type { FeatureSet } from './features/types.ts';
import { openModel } from './load-model.ts';
import { type Model, type Prediction, predict, predictMany } from './model.ts';
import { MODEL_EXTENSION } from './model-file.ts';
import { mlMetrics } from './prometheus.ts';

/** The repository's models/ folder, where `npm run models` writes the default models. */
export const DEFAULT_MODELS_DIR = resolve(PRODUCT_ROOT, 'models');

export interface ServedModel {
  name: string;
  path: string;
  model: Model;
  featureSet: FeatureSet | undefined;
  threshold: number;
  detect: boolean;
  /** Index of the benign class, or -1 (then any class counts as a detection). */
  negative: number;
}

export interface ModelInfo {
  name: string;
  algorithm: string;
  feature_set: string | null;
  feature_set_version: number | null;
  n_features: number;
  labels: string[];
  negative_label: string | null;
  threshold: number;
  detect: boolean;
  default: boolean;
  trees: number;
  test_metrics: { macro_f1: number; accuracy: number; false_positive_rate: number | null } | null;
  data_fingerprint: string | null;
}

export interface PredictResponse extends Prediction {
  model_used: string;
  inference_time_ms: number;
  timestamp: string;
}

/** ATT&CK techniques for the CICIDS2017 classes, so flow detections carry tags the analyst can use. */
const CLASS_TECHNIQUES: Array<[RegExp, string]> = [
  [/ddos|dos/i, 't1498'],
  [/portscan/i, 't1046'],
  [/patator|brute force/i, 't1110'],
  [/sql injection|xss|heartbleed/i, 't1190'],
  [/botnet/i, 't1071'],
  [/infiltration/i, 't1204'],
];

function levelOf(p: number): SeverityName {
  return p >= 0.95 ? 'high' : 'medium';
}

const STATE_KEY = (fs: string) => `ml.state.${fs}`;

/**
 * A view of behavioural state that reads but never records: scoring an event
 * through the API must not change what the pipeline remembers.
 */
class PeekState extends BehaviourState {
  constructor(private readonly inner: BehaviourState) {
    super();
  }
  override take(key: string) {
    // A copy: the feature code updates the identity it is given.
    const s = this.inner.peek(key);
    return s ? structuredClone(s) : undefined;
  }
  override put(): void {}
}

export class MlService {
  readonly models = new Map<string, ServedModel>();
  readonly defaultModel: string | undefined;
  private readonly states = new Map<string, BehaviourState>();
  private dirty = false;
  private lastSave = Date.now();
  private readonly metrics: ReturnType<typeof mlMetrics>;

  private constructor(
    private readonly config: MlConfig,
    metrics: Metrics,
    private readonly logger: Logger,
    private readonly store: Store | undefined,
  ) {
    this.metrics = mlMetrics(metrics);
    if (config.enabled && config.use_default_models)
      this.loadDefaults(config.models_dir ?? DEFAULT_MODELS_DIR);
    if (config.enabled)
      for (const [name, mc] of Object.entries(config.models))
        this.models.set(name, this.load(name, mc, true)!);
    const wanted = config.default_model;
    if (wanted !== undefined && !this.models.has(wanted))
      throw new AisocError('AISOC_ERR_CONFIG', `ml.default_model ${wanted} is not among the loaded models`, {
        field: 'ml.default_model',
      });
    this.defaultModel =
      wanted ??
      [...this.models.values()].find((m) => m.featureSet?.name === 'cicflowmeter')?.name ??
      [...this.models.keys()][0];
    // Every served model on /metrics from the start, at zero: a dashboard or alert per model sees
    // "no predictions" rather than no series at all.
    for (const name of this.models.keys()) {
      this.metrics.mlPredictions.inc({ model: name }, 0);
      this.metrics.mlInferenceLatency.zero({ model: name });
    }
  }

  /**
   * Load every configured model (failing fast on a bad one) and restore behavioural state.
   *
   * @example
   * const ml = await MlService.open(config.ml, { metrics, logger, store });
   */
  static async open(
    config: MlConfig,
    deps: { metrics: Metrics; logger: Logger; store?: Store },
  ): Promise<MlService> {
    const svc = new MlService(config, deps.metrics, deps.logger, deps.store);
    await svc.restore();
    return svc;
  }

  private loadDefaults(dir: string): void {
    if (!existsSync(dir)) return;
    for (const file of readdirSync(dir).sort()) {
      if (!file.endsWith(MODEL_EXTENSION)) continue;
      const name = basename(file, MODEL_EXTENSION);
      if (this.config.models[name]) continue;
      const served = this.load(name, { path: join(dir, file), format: 'aisoc', detect: true }, false);
      if (!served) continue;
      // A weak model raising alerts on every call would bury the real ones: it only answers /predict.
      const f1 = (served.model.meta.metrics as { test?: { macro_f1?: number } }).test?.macro_f1;
      if (served.detect && (f1 === undefined || f1 < this.config.min_detect_macro_f1)) {
        served.detect = false;
        this.logger.info(
          { model: name, macro_f1: f1, min: this.config.min_detect_macro_f1 },
          'A default model scores below ml.min_detect_macro_f1; it serves /predict but does not raise detections.',
        );
      }
      this.models.set(name, served);
    }
  }

  private load(name: string, mc: MlModelConfig, required: boolean): ServedModel | undefined {
    try {
      const model = openModel(mc.path, {
        format: mc.format,
        featureSet: mc.feature_set,
        labels: mc.labels,
        negativeLabel: mc.negative_label,
      });
      const fsName = model.meta.feature_set?.name ?? mc.feature_set;
      const fs = fsName ? featureSet(fsName) : undefined;
      if (fs && fs.columns.length !== model.ensemble.nFeatures)
        throw new AisocError(
          'AISOC_ERR_MODEL',
          `${mc.path} reads ${model.ensemble.nFeatures} features; ${fs.name} has ${fs.columns.length}`,
        );
      const negLabel = model.meta.negative_label ?? mc.negative_label;
      const negative = negLabel === undefined || negLabel === null ? -1 : model.meta.labels.indexOf(negLabel);
      // Without a benign class every score is "not benign": such a model can serve /predict but not detect.
      if (mc.detect && (negative < 0 || !fs))
        this.logger.warn(
          { model: name },
          'The model has no benign class or no feature set; it serves /predict but does not score pipeline events.',
        );
      return {
        name,
        path: mc.path,
        model,
        featureSet: fs,
        threshold: mc.threshold ?? this.config.threshold,
        detect: mc.detect && negative >= 0 && fs !== undefined,
        negative,
      };
    } catch (err) {
      if (required)
        throw new AisocError('AISOC_ERR_CONFIG', `ml.models.${name}: ${describeError(err)}`, {
          field: `ml.models.${name}`,
          cause: err,
        });
      this.logger.warn(
        { model: name, err: describeError(err) },
        'A default model could not be loaded; it is not served.',
      );
      return undefined;
    }
  }

  /** What GET /models shows. */
  list(): ModelInfo[] {
    return [...this.models.values()].map((s) => {
      const m = s.model.meta;
      const test = (
        m.metrics as { test?: { macro_f1: number; accuracy: number; false_positive_rate: number | null } }
      ).test;
      return {
        name: s.name,
        algorithm: m.algorithm,
        feature_set: m.feature_set?.name ?? s.featureSet?.name ?? null,
        feature_set_version: m.feature_set?.version ?? s.featureSet?.version ?? null,
        n_features: s.model.ensemble.nFeatures,
        labels: m.labels,
        negative_label: s.negative >= 0 ? m.labels[s.negative]! : null,
        threshold: s.threshold,
        detect: s.detect,
        default: s.name === this.defaultModel,
        trees: s.model.ensemble.roots.length,
        test_metrics: test
          ? {
              macro_f1: test.macro_f1,
              accuracy: test.accuracy,
              false_positive_rate: test.false_positive_rate,
            }
          : null,
        data_fingerprint:
          typeof m.training.data_fingerprint === 'string' ? m.training.data_fingerprint : null,
      };
    });
  }

  /** A served model by name (the default when none is given). */
  get(name?: string): ServedModel {
    const key = name ?? this.defaultModel;
    const s = key === undefined ? undefined : this.models.get(key);
    if (!s)
      throw new AisocError(
        'AISOC_ERR_MODEL_NOT_FOUND',
        key === undefined
          ? 'No model is loaded (ml.enabled is false or no model file was found).'
          : `No model named ${JSON.stringify(key)} is loaded; there are: ${[...this.models.keys()].join(', ') || 'none'}.`,
        { field: 'model_name' },
      );
    return s;
  }

  private observe(name: string, startNs: bigint, n = 1): number {
    const ms = Number(process.hrtime.bigint() - startNs) / 1e6;
    this.metrics.mlInferenceLatency.observe({ model: name }, ms / 1000);
    this.metrics.mlPredictions.inc({ model: name }, n);
    return ms;
  }

  /**
   * Score one feature vector.
   *
   * @example
   * ml.predict([0, 1, …], 'cloudtrail18-rf');
   */
  predict(features: readonly unknown[], name?: string): PredictResponse {
    const s = this.get(name);
    const t0 = process.hrtime.bigint();
    const p = predict(s.model, features);
    const ms = this.observe(s.name, t0);
    return { ...p, model_used: s.name, inference_time_ms: ms, timestamp: new Date().toISOString() };
  }

  /** Score many vectors with one model. */
  predictBatch(rows: readonly (readonly unknown[])[], name?: string) {
    const s = this.get(name);
    const t0 = process.hrtime.bigint();
    const predictions = predictMany(s.model, rows);
    const ms = this.observe(s.name, t0, rows.length);
    return {
      predictions,
      model_used: s.name,
      count: rows.length,
      inference_time_ms: ms,
      timestamp: new Date().toISOString(),
    };
  }

  /**
   * Compute an event's features server-side and score them: with the named
   * model, or with every model whose feature set describes the event.
   * Behavioural state is read, not updated.
   */
  predictEvent(event: EventDraft, name?: string) {
    const targets =
      name === undefined ? [...this.models.values()].filter((s) => s.featureSet) : [this.get(name)];
    const results: Array<PredictResponse & { feature_set: string; features: number[] }> = [];
    for (const s of targets) {
      const fs = s.featureSet;
      if (!fs) {
        throw new AisocError(
          'AISOC_ERR_MODEL',
          `Model ${s.name} has no feature set bound, so events cannot be scored with it.`,
          {
            field: 'model_name',
          },
        );
      }
      const state = this.states.get(fs.name);
      const v = fs.fromEvent(event, state ? new PeekState(state) : fs.newState?.());
      if (!v) continue;
      const t0 = process.hrtime.bigint();
      const p = predict(s.model, v);
      const ms = this.observe(s.name, t0);
      results.push({
        ...p,
        model_used: s.name,
        feature_set: fs.name,
        features: v,
        inference_time_ms: ms,
        timestamp: new Date().toISOString(),
      });
    }
    if (results.length === 0)
      throw new AisocError(
        'AISOC_ERR_FEATURES',
        name === undefined
          ? 'No loaded model has a feature set that describes this event (flows need network packet or byte counts; CloudTrail calls need cloud.provider aws, service and operation).'
          : `Feature set ${this.get(name).featureSet?.name} does not describe this event.`,
        { field: 'event' },
      );
    return results;
  }

  /** Models that score pipeline events. */
  private detecting(): ServedModel[] {
    return [...this.models.values()].filter((s) => s.detect && s.featureSet);
  }

  /**
   * The pipeline detector: each event's vectors are computed once per
   * feature set (stateful sets update their state once), scored by every
   * detecting model of that set, and a score of "not benign" at or above the
   * model's threshold becomes a candidate with engine `ml`.
   */
  detector(): Detector {
    return {
      name: 'ml',
      rules: () => this.rules(),
      detect: (events: NormalisedEvent[]): AlertCandidate[] => {
        const models = this.detecting();
        if (models.length === 0) return [];
        const out: AlertCandidate[] = [];
        const sets = [...new Set(models.map((m) => m.featureSet!))];
        for (const e of events) {
          for (const fs of sets) {
            let state: BehaviourState | undefined;
            if (fs.newState) {
              state = this.states.get(fs.name);
              if (!state) {
                state = fs.newState() as BehaviourState;
                this.states.set(fs.name, state);
              }
            }
            const v = fs.fromEvent(e, state);
            if (!v) continue;
            if (state) this.dirty = true;
            for (const s of models) {
              if (s.featureSet !== fs) continue;
              const t0 = process.hrtime.bigint();
              const p = predict(s.model, v);
              this.observe(s.name, t0);
              const labels = s.model.meta.labels;
              const benign = s.negative >= 0 ? p.probabilities[labels[s.negative]!]! : 0;
              const score = 1 - benign;
              if (score < s.threshold) continue;
              // Name the likeliest attack class, even when benign is the single likeliest class.
              let top = -1;
              for (let c = 0; c < labels.length; c++)
                if (
                  c !== s.negative &&
                  (top < 0 || p.probabilities[labels[c]!]! > p.probabilities[labels[top]!]!)
                )
                  top = c;
              out.push(this.candidate(s, e, labels[top]!, p.probabilities[labels[top]!]!, score));
            }
          }
        }
        void this.maybeSave();
        return out;
      },
    };
  }

  /**
   * The detecting models as rules (`GET /rules`): the rule id and title its
   * detections carry, and the ATT&CK techniques of the classes it can name.
   */
  rules(): DetectorRule[] {
    return this.detecting().map((s) => {
      const tags = ['ml', `ml.model.${s.name}`];
      for (const label of s.model.meta.labels)
        for (const [re, t] of CLASS_TECHNIQUES) if (re.test(label)) tags.push(`attack.${t}`);
      const unique = [...new Set(tags)];
      return {
        id: `ml:${s.name}`,
        title: `ML: ${s.name} (${s.featureSet!.name})`,
        engine: 'ml' as const,
        // Its detections are medium, or high at 0.95 and above.
        level: 'medium' as const,
        status: 'stable',
        tags: unique,
        lint: lintOf(
          [],
          unique.some((t) => t.startsWith('attack.'))
            ? []
            : ['none of its classes maps to an ATT&CK technique, so it counts toward no coverage'],
        ),
      };
    });
  }

  private candidate(
    s: ServedModel,
    e: NormalisedEvent,
    label: string,
    pLabel: number,
    score: number,
  ): AlertCandidate {
    const tags = ['ml', `ml.model.${s.name}`];
    for (const [re, t] of CLASS_TECHNIQUES) if (re.test(label)) tags.push(`attack.${t}`);
    return {
      detection: {
        engine: 'ml',
        rule_id: `ml:${s.name}`,
        rule_title: `ML: ${label} (${s.featureSet!.name})`,
        level: levelOf(score),
        tags,
        confidence: Math.round(score * 1e4) / 1e4,
        description: `Model ${s.name} (${s.model.meta.algorithm}, feature set ${s.featureSet!.name}) scores this event ${label} with probability ${pLabel.toFixed(3)}; probability it is not benign: ${score.toFixed(3)} (threshold ${s.threshold}).`,
        event_ids: [e.id],
      },
      events: [e],
      title: `${label} (ML, ${s.featureSet!.name})`,
    };
  }

  private async restore(): Promise<void> {
    if (!this.store) return;
    for (const s of this.detecting()) {
      const fs = s.featureSet!;
      if (!fs.newState || this.states.has(fs.name)) continue;
      try {
        const snap = await this.store.kv.get<unknown>(STATE_KEY(fs.name));
        if (snap !== undefined) this.states.set(fs.name, BehaviourState.restore(snap));
      } catch (err) {
        this.logger.warn(
          { err: describeError(err), feature_set: fs.name },
          'Behavioural state could not be restored; it starts empty.',
        );
      }
    }
  }

  private async maybeSave(): Promise<void> {
    const interval = this.config.state_persist_interval_ms;
    if (!this.dirty || interval === 0 || Date.now() - this.lastSave < interval) return;
    await this.flush();
  }

  /** Save behavioural state to the store (called periodically and at shutdown). */
  async flush(): Promise<void> {
    if (!this.store || !this.dirty) return;
    this.dirty = false;
    this.lastSave = Date.now();
    for (const [name, state] of this.states) {
      try {
        await this.store.kv.set(STATE_KEY(name), state.snapshot());
      } catch (err) {
        this.dirty = true;
        this.logger.warn(
          { err: describeError(err), feature_set: name },
          'Behavioural state could not be saved; it will be retried.',
        );
      }
    }
  }
}

"""Python baselines for `npm run bench -- ml` (bench/ml.ts runs this file).

Reads the matrices bench/ml.ts wrote (float32 features, int32 classes, made
by our CSV reader and feature module, so every learner sees the same
numbers), fits each job's learner, and writes the predicted classes and the
training time of each job to out.json; bench/ml.ts scores them with the same
metric code as ours.

Learners at their DEFAULT settings (the headline), with only what is not a
model setting fixed: the thread count (the same for every learner) and the
random seed (so a run can be repeated):
  sklearn_rf   sklearn.ensemble.RandomForestClassifier()
  sklearn_hgb  sklearn.ensemble.HistGradientBoostingClassifier()
  xgboost      xgboost.XGBClassifier()
and one TUNED learner, reported apart under that name:
  xgboost_tuned  XGBClassifier with the settings of our tuned GBDT (bench/ml.ts
                 GBDT_TUNED), subsample = gossTop + gossOther standing in for
                 GOSS (XGBoost has no GOSS on CPU), early stopping on the same
                 validation rows as ours.

Inference: the default random forest of the "time" set, n_jobs=1,
predict_proba over the held-out rows repeated for about 2 s, measured both by
the wall clock (time.perf_counter) and per CPU-second of this process
(time.process_time), the two units bench/ml.ts reports for ours.

Usage: python3 bench/ml_baselines.py DIR  (DIR holds params.json and the matrices)
"""
import json
import os
import sys
import time

import numpy as np


def main():
    d = sys.argv[1]
    p = json.load(open(os.path.join(d, "params.json")))
    threads, seed = p["threads"], p["seed"]
    # HistGradientBoosting threads through OpenMP; the variable is read when the module loads.
    os.environ["OMP_NUM_THREADS"] = str(threads)
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    import xgboost as xgb

    def matrix(name, cols):
        x = np.fromfile(os.path.join(d, name + ".f32"), dtype=np.float32).reshape(-1, cols)
        y = np.fromfile(os.path.join(d, name + ".i32"), dtype=np.int32)
        return x, y

    def learner(kind):
        if kind == "sklearn_rf":
            return RandomForestClassifier(n_jobs=threads, random_state=seed)
        if kind == "sklearn_hgb":
            return HistGradientBoostingClassifier(random_state=seed)
        if kind == "xgboost":
            return xgb.XGBClassifier(n_jobs=threads, random_state=seed)
        if kind == "xgboost_tuned":
            g = p["tuned"]
            return xgb.XGBClassifier(
                tree_method="hist", n_estimators=g["nRounds"], learning_rate=g["learningRate"],
                max_depth=g["maxDepth"], max_bin=g["maxBins"], subsample=g["gossTop"] + g["gossOther"],
                colsample_bytree=g["colsample"], min_child_weight=g["minChildWeight"], reg_lambda=g["lambda"],
                n_jobs=threads, random_state=seed, early_stopping_rounds=g["earlyStoppingRounds"])
        raise ValueError(kind)

    out = {"versions": {"sklearn": __import__("sklearn").__version__, "xgboost": xgb.__version__}}
    fitted = {}
    for job in p["jobs"]:
        s = p["sets"][job["set"]]
        xtr, ytr = matrix(s["train"], s["cols"])
        xte, _ = matrix(s["test"], s["cols"])
        fit_args = {}
        if job["learner"] == "xgboost_tuned":
            xtr, ytr = matrix(s["fit"], s["cols"])
            xva, yva = matrix(s["valid"], s["cols"])
            fit_args = {"eval_set": [(xva, yva)], "verbose": False}
        best, model = None, None
        for _ in range(job["repeat"]):
            m = learner(job["learner"])
            t = time.perf_counter()
            m.fit(xtr, ytr, **fit_args)
            dt = time.perf_counter() - t
            if best is None or dt < best:
                best, model = dt, m
        key = job["set"] + "/" + job["learner"]
        note = ""
        if job["learner"].startswith("xgboost") and getattr(model, "best_iteration", None) is not None \
                and fit_args:
            note = "%d rounds" % (int(model.best_iteration) + 1)
        if job["learner"] == "sklearn_hgb":
            note = "%d iterations" % model.n_iter_
        out[key] = {"seconds": best, "pred": model.predict(xte).astype(int).tolist(), "note": note}
        fitted[key] = (model, xte)

    inf = p.get("inference")
    if inf:
        model, xte = fitted[inf]
        model.set_params(n_jobs=1)
        model.predict_proba(xte)
        reps = 0
        w0, c0 = time.perf_counter(), time.process_time()
        while time.perf_counter() - w0 < 2.0:
            model.predict_proba(xte)
            reps += 1
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        out["inference"] = {"wall": reps * len(xte) / wall, "cpu": reps * len(xte) / cpu}
    json.dump(out, open(os.path.join(d, "out.json"), "w"))


if __name__ == "__main__":
    main()

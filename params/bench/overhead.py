"""Per-run overhead: papermill + imports + data + prediction versus the fit itself.

1. Times a bare papermill run of a notebook that only imports timm and builds a model (the floor).
2. For every run of a finished study, splits the grid's wall time per run into the fit
   (`metrics.json: fit_seconds`) and everything else.

    python params/bench/overhead.py runs/quickstart [runs/fmnist ...] [--out paper/bench/overhead.json]
"""
import argparse, json, subprocess, sys, tempfile, time
from pathlib import Path
import nbformat, pandas as pd


def bare_papermill_seconds(repeats=3):
    "Wall time of `papermill` on a 1-cell notebook that imports timm and builds a model (median of `repeats`)."
    d = Path(tempfile.mkdtemp()); nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import timm, visionlab.models\nm = timm.create_model('cnn_small', num_classes=10, in_chans=1)")]
    nb.metadata['kernelspec'] = dict(name='python3', display_name='python3', language='python')
    nbformat.write(nb, d/'in.ipynb'); ts = []
    for _ in range(repeats):
        t = time.time()
        subprocess.run([sys.executable, '-m', 'papermill', str(d/'in.ipynb'), str(d/'out.ipynb'), '--no-progress-bar'], check=True, capture_output=True)
        ts.append(time.time() - t)
    return sorted(ts)[len(ts) // 2]


def study_overhead(study_dir):
    "Per run: grid wall seconds, fit seconds, and the rest (papermill start, imports, data, prediction, writes)."
    s = pd.read_csv(Path(study_dir)/'grid_summary.csv').query("status == 'done'")
    fit = []
    for r in s.itertuples():
        rd = Path(study_dir)/r.task/r.backbone/r.recipe/(f'fold{r.fold}' if r.fold >= 0 else 'full')
        fit.append(json.loads((rd/'metrics.json').read_text())['fit_seconds'])
    s = s.assign(fit_seconds=fit, overhead_seconds=s.seconds.to_numpy() - fit)
    return s[['task', 'backbone', 'recipe', 'fold', 'seconds', 'fit_seconds', 'overhead_seconds']]


if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('studies', nargs='*'); ap.add_argument('--out', default='paper/bench/overhead.json')
    a = ap.parse_args()
    res = dict(bare_papermill_seconds=bare_papermill_seconds())
    for sd in a.studies:
        o = study_overhead(sd)
        res[Path(sd).name] = dict(runs=len(o), mean_run_seconds=o.seconds.mean(), mean_fit_seconds=o.fit_seconds.mean(),
                                  mean_overhead_seconds=o.overhead_seconds.mean(), min_overhead_seconds=o.overhead_seconds.min(),
                                  max_overhead_seconds=o.overhead_seconds.max())
        print(o.to_string(index=False))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True); Path(a.out).write_text(json.dumps(res, indent=2)); print(json.dumps(res, indent=2))

"""Per-run overhead, cold (a `python -m papermill` process per run) against warm (a fork of a warm worker per run).

Runs the same grid twice through the real `vlab run` command, once with `--cold` and once warm, and splits its wall
time into the runs' own compute (`metrics.json: run_seconds`, from the notebook's first cell after its imports to its
last write) and everything else:

- `grid_overhead_per_run_s` = (grid wall time x workers - sum of the runs' compute) / runs: everything a run costs
  beyond its compute, the command's start, the workers' imports and the data checks spread over the runs;
- `run_overhead_s` = per run, the seconds `execute_run` took minus its compute (what each run pays once the grid is
  going: process or fork, kernel, imports, notebook writes, rename), with min / median / max;
- `startup_s` = grid wall time minus the sum of the runs' `execute_run` seconds (per worker): the command's imports,
  the data checks and the first wait for the workers' imports.

Two grids: the quickstart study (params/quickstart.yaml: digits, 2 backbones x 5 folds = 10 runs) with its epochs
cut to `--epochs` (the overhead does not depend on them; 1 by default, 12 is the study's own), and a 50-run grid
(digits, cnn_small, 10 learning rates x 5 folds, 1 epoch at 8 px) where start-up would dominate a cold grid.

    python params/bench/overhead.py [--epochs 1] [--workers 1] [--out paper/bench/overhead.json]
"""
import argparse, json, os, platform, statistics, subprocess, sys, tempfile, time
from pathlib import Path
import pandas as pd, yaml

ROOT = Path(__file__).resolve().parents[2]
VLAB = str(Path(sys.executable).parent/'vlab')


def grids(epochs:int) -> dict:
    "The two study dicts: quickstart with `epochs` epochs, and the 50-run grid."
    qs = yaml.safe_load((ROOT/'params'/'quickstart.yaml').read_text())
    qs['recipe']['epochs'] = epochs; qs['recipe']['warmup_epochs'] = min(qs['recipe'].get('warmup_epochs', 0), epochs / 2)
    many = dict(study='overhead50', tasks=['digits'], backbones=['cnn_small'], folds=5, seed=0,
                recipe=dict(epochs=1, img_size=8, batch_size=64, warmup_epochs=0.3, augment='none', eval_batch_size=512),
                vary=dict(lr=[1e-3 * (1 + k) for k in range(10)]))
    return {'quickstart': qs, 'overhead50': many}


def measure(study:dict, mode:str, workers:int, root:Path) -> dict:
    "Run `study` through `vlab run` (`--cold` when mode is 'cold') in a fresh folder; the overhead figures of that grid."
    d = root/mode; d.mkdir(parents=True); p = d/'study.yaml'; p.write_text(yaml.safe_dump(study))
    cmd = [VLAB, 'run', str(p), '--workers', str(workers), '--runs', str(d/'runs')] + (['--cold'] if mode == 'cold' else [])
    t0 = time.time(); r = subprocess.run(cmd, cwd=d, capture_output=True, text=True); wall = time.time() - t0
    if r.returncode: raise SystemExit(f'{mode}: vlab run failed ({r.returncode}):\n{r.stderr[-3000:]}')
    sd = d/'runs'/study['study']; s = pd.read_csv(sd/'grid_summary.csv')
    compute = []
    for row in s.itertuples():
        rd = sd/row.task/row.backbone/row.recipe/f'fold{row.fold}'
        compute.append(json.loads((rd/'metrics.json').read_text())['run_seconds'])
    per_run = [a - b for a, b in zip(s.seconds, compute)]
    return dict(runs=len(s), workers=workers, wall_s=round(wall, 2), sum_run_compute_s=round(sum(compute), 2),
                grid_overhead_per_run_s=round((wall * workers - sum(compute)) / len(s), 3),
                run_overhead_s=dict(median=round(statistics.median(per_run), 3), min=round(min(per_run), 3), max=round(max(per_run), 3),
                                    mean=round(statistics.mean(per_run), 3)),
                startup_s=round(wall - s.seconds.sum() / workers, 2))


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--epochs', type=int, default=1); ap.add_argument('--workers', type=int, default=1)
    ap.add_argument('--only', default='', help='comma-separated grid names (default: both)')
    ap.add_argument('--out', default=str(ROOT/'paper'/'bench'/'overhead.json'))
    a = ap.parse_args()
    res = dict(machine=dict(cpus=os.cpu_count(), python=platform.python_version()),
               command=' '.join(['python', 'params/bench/overhead.py', *sys.argv[1:]]), epochs_quickstart=a.epochs)
    with tempfile.TemporaryDirectory() as tmp:
        for name, study in grids(a.epochs).items():
            if a.only and name not in a.only.split(','): continue
            res[name] = {mode: measure(study, mode, a.workers, Path(tmp)/name) for mode in ('cold', 'warm')}
            print(name, json.dumps(res[name], indent=1), flush=True)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True); Path(a.out).write_text(json.dumps(res, indent=2) + '\n')
    print(f'wrote {a.out}')

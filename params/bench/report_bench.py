"""Fit-loop benchmark table: the bare PyTorch loop (params/bench/bare_loop.py) against the same recipe
run through vlab (params/fmnist_bench.yaml), written to paper/bench/bench_fit.tex and paper/bench/fit_loop.json.

    python params/bench/report_bench.py [--runs runs/fmnist_bench]
"""
import argparse, json
from pathlib import Path
import pandas as pd
from visionlab.report import booktabs_table, save_table

ap = argparse.ArgumentParser(); ap.add_argument('--runs', default='runs/fmnist_bench'); ap.add_argument('--paper', default='paper')
a = ap.parse_args()
bare = json.loads((Path(a.paper)/'bench/bare_loop.json').read_text())
rd = Path(a.runs)/'fashion_mnist/cnn_small/base/full'
m, env = json.loads((rd/'metrics.json').read_text()), json.loads((rd/'env.json').read_text())
hist = pd.read_csv(rd/'history.csv'); grid = pd.read_csv(Path(a.runs)/'grid_summary.csv')
n_img = bare['img_per_s'] * bare['train_seconds'] / bare['epochs']   # images per epoch (full batches)
rows = {'bare PyTorch loop': dict(test_acc=bare['test_acc'], train_s=bare['train_seconds'], img_s=bare['img_per_s'], run_s=bare['total_seconds']),
        'vlab (fit_fold via papermill)': dict(test_acc=m['test']['acc'], train_s=m['fit_seconds'], img_s=bare['epochs'] * n_img / m['fit_seconds'],
                                  run_s=float(grid.seconds.iloc[0]))}
df = pd.DataFrame.from_dict(rows, orient='index').rename_axis('loop')
res = dict(rows=rows, time_ratio=m['fit_seconds'] / bare['train_seconds'], run_time_ratio=float(grid.seconds.iloc[0]) / bare['total_seconds'],
           acc_diff=m['test']['acc'] - bare['test_acc'], device=env['device'], torch=env['packages']['torch'], epochs=bare['epochs'], runs=1)
cap = (f"Fashion-MNIST, cnn\\_small (140k parameters), {bare['epochs']} epochs on the full 60k train split, flip TTA on the 10k test split; "
       f"one run each on {env['device']}, torch {env['packages']['torch']}. train\\_s: training loop only; run\\_s: whole script / whole papermill run.")
tex = booktabs_table(df, cap, 'tab:bench_fit', ['test_acc', 'train_s', 'img_s', 'run_s'], higher_is_better=['test_acc', 'img_s'],
                     headers=dict(test_acc='test acc', train_s='train s', img_s='img/s', run_s='run s'), digits=4)
save_table(tex, Path(a.paper)/'bench/bench_fit.tex')
(Path(a.paper)/'bench/fit_loop.json').write_text(json.dumps(res, indent=2)); print(df.to_string()); print(json.dumps(res, indent=2))

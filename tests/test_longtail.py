"""The long-tail toolkit end to end: recipes of params/fmnist_lt.yaml run through fit_fold (tiny: digits made
long-tailed, 2 epochs), class counts come from the training fold, post-hoc adjustment keeps the raw logits.
By default four recipes that cover every mechanism the test checks (plain CE, post-hoc adjustment, a DRW re-weighting
phase, a balanced-sampler last phase); `--runslow` runs every recipe of the study file (22 runs, ~5 min on 2 cores)."""
import json
import pytest
from pathlib import Path
import numpy as np, pandas as pd, yaml
from visionlab.losses import log_prior
from conftest import vlab

ROOT = Path(__file__).parents[1]


CORE = ['ce', 'ce_posthoc_la', 'ldam_drw', 'ce_balanced_last']


def tiny_lt_study(folder, only=None):
    "params/fmnist_lt.yaml's recipes (or those named in `only`) on digits_lt (ratio 10), 2 folds, 2 epochs at 8 px (digits' native size) (DRW phases: the last epoch)."
    d = yaml.safe_load((ROOT/'params/fmnist_lt.yaml').read_text())
    if only: d['recipes'] = {k: v for k, v in d['recipes'].items() if k in only}
    d.update(study='lt', tasks=['digits_lt'], task_args={'digits_lt': {'ratio': 10}}, folds=2)
    d['recipe'].update(epochs=2, img_size=8, batch_size=64, warmup_epochs=0.3, eval_batch_size=256, augment='none')
    for r in d['recipes'].values():
        if r.get('drw_epochs'): r['drw_epochs'] = 1
    p = Path(folder)/'lt.yaml'; p.write_text(yaml.safe_dump(d)); return p, d


@pytest.mark.parametrize('only', [pytest.param(CORE, id='core'), pytest.param(None, id='every_recipe', marks=pytest.mark.slow)])
def test_longtail_recipes_run_through_fit_fold(tmp_path, only):
    p, d = tiny_lt_study(tmp_path, only)
    assert set(CORE) <= set(d['recipes']) and any(r.get('drw_mode') == 'weights' for r in d['recipes'].values())
    r = vlab('run', p, '--workers', 2, '--runs', tmp_path/'runs', cwd=tmp_path, check=True, timeout=900)
    sd = tmp_path/'runs/lt'; folds = pd.read_csv(sd/'digits_lt/folds.csv')
    assert sorted(x.name for x in (sd/'digits_lt/cnn_small').iterdir()) == sorted(d['recipes'])
    for name in d['recipes']:
        for k in (0, 1):
            rd = sd/'digits_lt/cnn_small'/name/f'fold{k}'
            assert (rd/'DONE').exists(), rd
            params, metrics = json.loads((rd/'params.json').read_text()), json.loads((rd/'metrics.json').read_text())
            train_labels = folds.label[folds.fold != k]                     # the training fold, never the validation fold
            assert params['train_counts'] == np.bincount(train_labels, minlength=10).tolist()
            assert set(metrics['best_epoch_by']) == {'acc', 'macro_f1', 'balanced_acc', 'nll'}
            assert metrics['best_epoch'] == metrics['best_epoch_by']['balanced_acc']
            hist = pd.read_csv(rd/'history.csv')
            assert hist.phase.tolist() == (['main', 'late'] if d['recipes'][name].get('drw_epochs') else ['main', 'main'])
    rd = sd/'digits_lt/cnn_small/ce_posthoc_la/fold0'                       # post-hoc LA: raw logits kept, adjusted ones published
    raw, adj = pd.read_parquet(rd/'oof_raw.parquet'), pd.read_parquet(rd/'oof.parquet')
    counts = json.loads((rd/'params.json').read_text())['train_counts']
    L = [f'logit_{i}' for i in range(10)]
    np.testing.assert_allclose(adj[L].to_numpy(), raw[L].to_numpy() - log_prior(counts), rtol=1e-6, atol=1e-5)
    assert json.loads((rd/'params.json').read_text())['posthoc_tau'] == 1.0
    assert not (sd/'digits_lt/cnn_small/ce/fold0/oof_raw.parquet').exists()
    # the paper layer: per-recipe long-tail table (OOF only: digits_lt has no test split) and the per-class recall figure
    vlab('paper', sd, '--out', tmp_path/'paper', cwd=tmp_path, check=True, timeout=900)
    tab = pd.read_csv(tmp_path/'paper/tables/longtail.csv', index_col=0)
    assert sorted(tab.index) == sorted(d['recipes']) and 'test_balanced_acc' not in tab
    oof = pd.concat([pd.read_parquet(sd/f'digits_lt/cnn_small/ce/fold{k}/oof.parquet') for k in (0, 1)])
    rare = [9, 8, 7]                                       # digits_lt keeps 170 * 10^(-c/9) images of class c
    pred, fold, label = oof[L].to_numpy().argmax(1), oof.fold.to_numpy(), oof.label.to_numpy()
    per_fold = [np.mean([(pred[(fold == k) & (label == c)] == c).mean() for c in rare]) for k in (0, 1)]
    assert abs(tab.loc['ce', 'rare_acc_mean'] - np.mean(per_fold)) < 1e-9
    assert (tmp_path/'paper/figures/per_class_recall.png').exists() and r'OOF rare acc' in (tmp_path/'paper/tables/longtail.tex').read_text()

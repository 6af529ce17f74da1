"""Issue 7 end to end: every regulariser, augmentation profile, TTA preset and the robust validation go through
the real `fit_fold` notebook for one tiny epoch, on real digits, and leave what the run-folder contract promises."""
import json
from pathlib import Path
import numpy as np, pandas as pd, pytest
from PIL import Image
from conftest import vlab, write_study

STUDY = """study: reg
tasks: [digits]
backbones: [cnn_small]
folds: 2
recipe: {epochs: 2, img_size: 8, batch_size: 64, warmup_epochs: 0.3, eval_batch_size: 256, augment: light}
recipes:
  base: {}
  sam_ema_swa: {mixup_alpha: 0.2, cutmix_alpha: 1.0, mix_off_epochs: 1, sam_rho: 0.05, ema_decay: 0.9, swa_start: 2,
                swa_lr: 1.0e-3, channels_last: true, tta: geo8}
  heavy_accum: {augment: heavy, accum_steps: 2, lr: 6.0e-3, schedule: cosine_restarts, restart_epochs: 1, final_model: last, tta: hflip_ms}
  no_color_group: {augment: no_color, group_augment: document, group_classes: ['1', '7'], group_p: 0.5, cutmix_alpha: 1.0,
                   mix_prob: 0.5, aug_path: sample, tta: rot90, robust: [jpeg, blur]}
"""
CORRUPTIONS = ['gaussian_noise', 'jpeg', 'blur', 'downscale']


@pytest.fixture(scope='module')
def reg_study(tmp_path_factory):
    d = tmp_path_factory.mktemp('reg')
    r = vlab('run', write_study(d, STUDY), '--workers', 2, '--runs', d/'runs', cwd=d, check=True)
    return d/'runs'/'reg'/'digits'/'cnn_small', r


def _runs(root, recipe): return sorted((root/recipe).glob('fold*'))


def test_every_recipe_runs_and_keeps_its_choice(reg_study):
    root, _ = reg_study
    for recipe in ['base', 'sam_ema_swa', 'heavy_accum', 'no_color_group']:
        for rd in _runs(root, recipe):
            assert (rd/'DONE').exists(), rd
            m = json.loads((rd/'metrics.json').read_text())
            # two epochs of real learning on digits (candidates are scored without TTA; rotations do not suit digits)
            assert max(c['acc'] for c in m['candidates'].values()) > 0.3, (rd, m['candidates'])
            assert 0 <= m['valid']['acc'] <= 1
            assert set(m['candidates']) >= {'best', 'last'} and m['final_model'] in m['candidates']
    m = json.loads((_runs(root, 'sam_ema_swa')[0]/'metrics.json').read_text())
    assert set(m['candidates']) == {'best', 'last', 'ema', 'swa'} and m['final_model'] in ('best', 'ema', 'swa')
    m = json.loads((_runs(root, 'heavy_accum')[0]/'metrics.json').read_text())
    assert m['final_model'] == 'last'


def test_robust_validation_files_and_metrics(reg_study):
    root, _ = reg_study
    for recipe, kinds in [('sam_ema_swa', CORRUPTIONS), ('no_color_group', ['jpeg', 'blur'])]:
        rd = _runs(root, recipe)[0]
        oof, rob = pd.read_parquet(rd/'oof.parquet'), pd.read_parquet(rd/'robust_oof.parquet')
        assert len(rob) == len(kinds) * len(oof) and sorted(rob.corruption.unique()) == sorted(kinds)
        for k in kinds: assert list(rob[rob.corruption == k].id) == list(oof.id)     # same rows, same order
        m = json.loads((rd/'metrics.json').read_text())
        assert set(m['robust']) == set(kinds) | {'mean'}
        assert m['robust']['mean']['acc'] <= m['valid']['acc'] + 0.05                # corruptions do not help


def test_same_robust_corruptions_in_every_run(reg_study):
    "Corruptions are keyed by the row id: two recipes' robust tables cover the same ids with the same corruption labels."
    root, _ = reg_study
    a, b = (pd.read_parquet(_runs(root, r)[1]/'robust_oof.parquet') for r in ('sam_ema_swa', 'heavy_accum'))
    assert a[['id', 'corruption']].equals(b[['id', 'corruption']])


def test_bad_regulariser_values_are_named(tmp_path):
    p = write_study(tmp_path, STUDY.replace('sam_rho: 0.05', 'sam_rho: 0.05, accum_steps: 2'))
    r = vlab('run', p, '--runs', tmp_path/'runs', '--dry_run', cwd=tmp_path)
    assert r.returncode == 2 and "recipe 'sam_ema_swa': 'accum_steps' must be 1 when sam_rho > 0" in r.stderr + r.stdout
    p = write_study(tmp_path, STUDY.replace("augment: heavy", "augment: hevy"))
    r = vlab('run', p, '--runs', tmp_path/'runs', '--dry_run', cwd=tmp_path)
    assert r.returncode == 2 and "'augment': unknown augmentation profile 'hevy'" in r.stderr + r.stdout


def test_ablation_paper_assets(reg_study, tmp_path):
    "`vlab paper` on the study: the clean-vs-robust ablation table equals what each run's fit_fold recorded."
    root, _ = reg_study
    sd, paper = root.parents[1], tmp_path/'paper'
    vlab('paper', sd, '--out', paper, cwd=tmp_path, check=True, timeout=900)
    for f in ['tables/ablation.tex', 'tables/ablation.csv', 'tables/ablation_per_fold.csv', 'figures/ablation.png', 'figures/ablation.pdf']:
        assert (paper/f).exists(), f
    tab = pd.read_csv(paper/'tables/ablation.csv', index_col=0)
    assert sorted(tab.index) == ['base', 'heavy_accum', 'no_color_group', 'sam_ema_swa'] and tab.loc['base', 'delta_robust_acc'] == 0
    for recipe in tab.index:   # robust acc = mean over folds of what fit_fold recorded: the accuracy averaged over corruptions
        m = [json.loads((rd/'metrics.json').read_text()) for rd in _runs(root, recipe)]
        assert abs(tab.loc[recipe, 'robust_acc_mean'] - np.mean([x['robust']['mean']['acc'] for x in m])) < 1e-9
        assert abs(tab.loc[recipe, 'clean_acc_mean'] - np.mean([x['valid']['acc'] for x in m])) < 1e-9
        assert abs(tab.loc[recipe, 'robust_blur'] - np.mean([x['robust']['blur']['acc'] for x in m])) < 1e-9
        assert pd.read_csv(paper/'bench/fit_seconds.csv', index_col=0).loc[recipe, 'fit_seconds'] > 0   # timings: their own file
    assert np.isnan(tab.loc['no_color_group', 'robust_gaussian_noise'])            # that recipe scored jpeg and blur only
    d = tab.loc['heavy_accum']
    assert abs(d.delta_clean_acc - 100 * (d.clean_acc_mean - tab.loc['base', 'clean_acc_mean'])) < 1e-9
    tex = (paper/'tables/ablation.tex').read_text()
    assert r'\toprule' in tex and r'$\Delta$ robust' in tex and 'over 2 folds' in tex
    assert round(Image.open(paper/'figures/ablation.png').info['dpi'][0]) == 300

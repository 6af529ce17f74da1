"""The clean-vs-robust ablation end to end: a real two-recipe study through `vlab run` (each run also scores its
validation fold under the default corruptions), then `vlab paper` writes the ablation table and figure."""
import json
import numpy as np, pandas as pd
from PIL import Image
from conftest import vlab, write_study

STUDY = """study: abl
tasks: [digits]
backbones: [cnn_small]
folds: 2
recipe: {epochs: 1, img_size: 16, batch_size: 64, warmup_epochs: 0.3, eval_batch_size: 256, augment: light}
recipes: {base: {}, heavy: {augment: heavy}}
"""


def test_ablation_assets_from_a_real_study(tmp_path):
    vlab('run', write_study(tmp_path, STUDY), '--workers', 2, '--runs', tmp_path/'runs', cwd=tmp_path, check=True, timeout=900)
    sd, paper = tmp_path/'runs/abl', tmp_path/'paper'
    vlab('paper', sd, '--out', paper, cwd=tmp_path, check=True, timeout=900)
    for f in ['tables/ablation.tex', 'tables/ablation.csv', 'tables/ablation_per_fold.csv', 'figures/ablation.png', 'figures/ablation.pdf']:
        assert (paper/f).exists(), f
    tab = pd.read_csv(paper/'tables/ablation.csv', index_col=0)
    assert list(tab.index) == ['base', 'heavy'] and tab.loc['base', 'delta_robust_acc'] == 0
    for recipe in tab.index:   # robust acc = mean over folds of what fit_fold recorded: the accuracy averaged over corruptions
        runs = [sd/f'digits/cnn_small/{recipe}/fold{k}' for k in (0, 1)]
        m = [json.loads((r/'metrics.json').read_text()) for r in runs]
        assert abs(tab.loc[recipe, 'robust_acc_mean'] - np.mean([x['robust']['mean']['acc'] for x in m])) < 1e-9
        assert abs(tab.loc[recipe, 'clean_acc_mean'] - np.mean([x['valid']['acc'] for x in m])) < 1e-9
        assert abs(tab.loc[recipe, 'robust_blur'] - np.mean([x['robust']['blur']['acc'] for x in m])) < 1e-9
        assert tab.loc[recipe, 'final_model'] == m[0]['final_model'] and tab.loc[recipe, 'fit_seconds'] > 0
    assert abs(tab.loc['heavy', 'delta_clean_acc'] - 100*(tab.loc['heavy', 'clean_acc_mean'] - tab.loc['base', 'clean_acc_mean'])) < 1e-9
    tex = (paper/'tables/ablation.tex').read_text()
    assert r'\toprule' in tex and r'$\Delta$ robust' in tex and r'gaussian\_noise, jpeg, blur, downscale' in tex and 'over 2 folds' in tex
    assert round(Image.open(paper/'figures/ablation.png').info['dpi'][0]) == 300

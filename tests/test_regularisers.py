"""Issue 7 end to end: every regulariser, augmentation profile, TTA preset and the robust validation go through
the real `fit_fold` notebook for one tiny epoch, on real digits, and leave what the run-folder contract promises."""
import json
from pathlib import Path
import pandas as pd, pytest
from conftest import vlab, write_study

STUDY = """study: reg
tasks: [digits]
backbones: [cnn_small]
folds: 2
recipe: {epochs: 2, img_size: 16, batch_size: 64, warmup_epochs: 0.3, eval_batch_size: 256, augment: light}
recipes:
  sam_ema_swa: {mixup_alpha: 0.2, cutmix_alpha: 1.0, mix_off_epochs: 1, sam_rho: 0.05, ema_decay: 0.9, swa_start: 2,
                swa_lr: 1.0e-3, channels_last: true, tta: geo8}
  heavy_accum: {augment: heavy, accum_steps: 2, lr: 6.0e-3, schedule: cosine_restarts, restart_epochs: 1, final_model: last, tta: ms}
  no_color_group: {augment: no_color, group_augment: document, group_classes: ['1', '7'], group_p: 0.5, cutmix_alpha: 1.0,
                   mix_prob: 0.5, tta: hflip_ms}
  document: {augment: document, aug_path: sample, tta: rot90, robust: [jpeg, blur]}
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
    for recipe in ['sam_ema_swa', 'heavy_accum', 'no_color_group', 'document']:
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
    for recipe, kinds in [('sam_ema_swa', CORRUPTIONS), ('document', ['jpeg', 'blur'])]:
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
    assert r.returncode == 2 and "'augment' is 'hevy'" in r.stderr + r.stdout

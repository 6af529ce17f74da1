"""Issue 9 end to end: zero-shot CLIP, linear and MLP probes on cached features, LoRA and self-training are runs like
any other: the real `fit_fold` notebook through `vlab run`, the run-folder contract, then `vlab paper` stacks them.
Offline: the CLIP model is the tiny registered config with random weights (no download); the data are real digits."""
import json
from pathlib import Path
import numpy as np, pandas as pd, pytest
from PIL import Image
from sklearn.datasets import load_digits
from conftest import vlab, write_study

CNN = """study: fm
tasks: [digits]
backbones: [cnn_small]
folds: 2
recipe: {epochs: 2, img_size: 16, batch_size: 64, warmup_epochs: 0.3, eval_batch_size: 256, robust: []}
recipes:
  lin: {method: linear_probe, probe_c: 0.5}
  mlp_st: {method: mlp_probe, epochs: 10, lr: 1.0e-2, mixup_alpha: 0.2, label_smoothing: 0.1, probe_dropout: 0.1, loss: weighted_ce,
           pseudo_rounds: 1, pseudo_threshold: 0.5, pseudo_pool: POOL}
  lora: {method: lora, lora_r: 4, robust: [jpeg], epochs: 4, lr: 2.0e-2}   # the frozen net is random here: the head and adapters do the work
"""
CLIP = """study: zs
tasks: [digits]
backbones: ['clip:vlab-tiny-vit']
folds: 2
recipe: {epochs: 1, img_size: 32, batch_size: 64, eval_batch_size: 256, robust: []}
recipes:
  zeroshot: {method: zeroshot, prompt_langs: [en, ko]}
"""


def _pool(d:Path) -> Path:
    "A CSV pool of 40 images: 20 copies of digits images (labelled rows: never pseudo-labelled) and 20 shifted ones."
    x = np.clip(load_digits().images[:20] * 16, 0, 255).astype(np.uint8)
    x = np.concatenate([x, np.roll(x, 1, axis=1)])
    for i, im in enumerate(x): Image.fromarray(im).save(d/f'p{i}.png')
    pd.DataFrame(dict(path=[f'p{i}.png' for i in range(len(x))])).to_csv(d/'pool.csv', index=False)
    return d/'pool.csv'


@pytest.fixture(scope='module')
def fm_study(tmp_path_factory):
    d = tmp_path_factory.mktemp('fm')
    study = write_study(d, CNN.replace('POOL', str(_pool(d))))
    vlab('run', study, '--workers', 2, '--runs', d/'runs', cwd=d, check=True)
    return d


def _metrics(rd): return json.loads((rd/'metrics.json').read_text())


def test_methods_write_the_run_folder(fm_study):
    root = fm_study/'runs'/'fm'/'digits'/'cnn_small'
    for recipe in ['lin', 'mlp_st', 'lora']:
        for k in (0, 1):
            rd = root/recipe/f'fold{k}'
            assert (rd/'DONE').exists(), rd
            m, oof = _metrics(rd), pd.read_parquet(rd/'oof.parquet')
            assert m['method'] == {'lin': 'linear_probe', 'mlp_st': 'mlp_probe', 'lora': 'lora'}[recipe]
            assert m['valid']['acc'] > 0.5, (rd, m['valid'])          # real learning on real digits
            assert len(oof) > 800 and oof.filter(like='logit_').shape[1] == 10
    m = _metrics(root/'lora'/'fold0')
    assert 0 < m['trainable_params'] < m['total_params'] and (root/'lora'/'fold0'/'adapter'/'adapter_config.json').exists()
    assert 'jpeg' in m['robust']                                        # robust validation runs on the merged network


def test_feature_cache_is_shared_by_folds_and_recipes(fm_study):
    root = fm_study/'runs'/'fm'/'digits'/'cnn_small'
    info = [_metrics(root/r/f'fold{k}')['features'] for r in ('lin', 'mlp_st') for k in (0, 1)]
    assert len({i['key'] for i in info}) == 1                          # one extractor: one cache folder
    assert sum(i['computed'] for i in info) == 1797                    # every digits image extracted exactly once
    assert all(i['hit'] + i['computed'] == 1797 for i in info)
    assert (fm_study/'runs'/'fm'/'.features'/info[0]['key']/'features.npz').exists()


def test_self_training_never_labels_validation_rows(fm_study):
    for k in (0, 1):
        log = pd.read_csv(fm_study/'runs'/'fm'/'digits'/'cnn_small'/'mlp_st'/f'fold{k}'/'pseudo.csv')
        assert list(log['round']) == [0, 1] and log.pool[0] == 40
        assert log.excluded[0] == 20                                    # the 20 copies of training/validation images
        assert 0 < log.pseudo[1] <= 20 and 'acc' in log


def test_paper_stacks_the_methods(fm_study):
    vlab('paper', fm_study/'runs'/'fm', '--out', fm_study/'paper', cwd=fm_study, check=True)
    s = pd.read_csv(fm_study/'paper'/'tables'/'summary.csv')
    assert {'cnn_small/lin', 'cnn_small/mlp_st', 'cnn_small/lora'} <= set(s.iloc[:, 0]), s.iloc[:, 0].tolist()


def test_clip_zeroshot_is_a_run(tmp_path):
    vlab('run', write_study(tmp_path, CLIP), '--runs', tmp_path/'runs', cwd=tmp_path, check=True)
    root = tmp_path/'runs'/'zs'/'digits'/'clip-vlab-tiny-vit'/'zeroshot'
    for k in (0, 1):
        m, oof = _metrics(root/f'fold{k}'), pd.read_parquet(root/f'fold{k}'/'oof.parquet')
        assert m['method'] == 'zeroshot' and m['prompts'] > 10 and len(oof) > 800
        assert json.loads((root/f'fold{k}'/'params.json').read_text())['backbone'] == 'clip:vlab-tiny-vit'


def test_study_errors_name_the_recipe(tmp_path):
    bad = CLIP.replace("backbones: ['clip:vlab-tiny-vit']", 'backbones: [cnn_small]')
    r = vlab('run', write_study(tmp_path, bad), '--runs', tmp_path/'runs', '--dry_run', cwd=tmp_path)
    assert r.returncode == 2 and "recipe 'zeroshot': method 'zeroshot' needs CLIP backbones" in r.stderr + r.stdout


FEWSHOT = """study: tfs
tasks: [textile_fewshot]
task_args: {textile_fewshot: {kind: binary}}
task_grid: {textile_fewshot: {shots: [4, 8], draw: [0, 1]}}
backbones: [cnn_small]
folds: 2
recipe: {img_size: 32, robust: [], eval_batch_size: 256, method: linear_probe, probe_c: 0}
recipes:
  lin_avg: {}
  lin_max: {feature_pool: max}
"""


@pytest.mark.slow   # ~100-200 s on 2 cores (4 variants x 2 recipes x 2 folds, 1,000 held-out textile images each): `make test-slow`
def test_fewshot_study_to_paper(tmp_path):
    "A real few-shot study on the textile images (binary, 2 shot counts x 2 draws, C by inner CV) through `vlab run` and `vlab paper`."
    vlab('run', write_study(tmp_path, FEWSHOT), '--workers', 2, '--runs', tmp_path/'runs', cwd=tmp_path, check=True)
    root = tmp_path/'runs'/'tfs'
    assert sorted(p.name for p in root.glob('textile_fewshot__*')) == [f'textile_fewshot__draw-{d}__shots-{s}' for d in (0, 1) for s in (4, 8)]
    m = _metrics(root/'textile_fewshot__draw-0__shots-8'/'cnn_small'/'lin_avg'/'fold0')
    assert m['probe_c'] > 0 and len(pd.read_parquet(root/'textile_fewshot__draw-0__shots-8'/'cnn_small'/'lin_avg'/'fold0'/'test.parquet')) == 1000
    vlab('paper', root, '--out', tmp_path/'paper', cwd=tmp_path, check=True)
    t = pd.read_csv(tmp_path/'paper'/'tables'/'fewshot.csv')
    assert list(t.shots) == [4, 8] and set(t.draws) == {2} and (t.method == 'linear_probe').all()
    ch = pd.read_csv(tmp_path/'paper'/'tables'/'fewshot_choices.csv')
    assert len(ch) == 4 and set(ch.recipe) <= {'lin_avg', 'lin_max'}
    for f in ['fewshot_shots_acc', 'fewshot_progression_auc']: assert (tmp_path/'paper'/'figures'/f'{f}.png').stat().st_size > 10_000
    assert 'fewshot_choices' in (tmp_path/'paper'/'README.md').read_text()

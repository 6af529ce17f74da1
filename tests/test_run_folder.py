"""The run-folder contract of DESIGN §3, checked on real runs of nbs/tasks/fit_fold.ipynb."""
import json
from pathlib import Path
import nbformat, pandas as pd, torch
from sklearn.datasets import load_digits
from visionlab.train import load_checkpoint
from conftest import vlab, write_study, TINY

RUN_FILES = ['params.json', 'env.json', 'notebook.ipynb', 'metrics.json', 'history.csv', 'oof.parquet', 'model.pt', 'DONE']


def runs_of(study_dir, backbone):
    return sorted((Path(study_dir)/'digits'/backbone/'base').glob('fold*'))


def test_every_file_of_the_contract(digits_study):
    study_dir, _ = digits_study
    for rd in runs_of(study_dir, 'cnn_small'):
        assert [f for f in RUN_FILES if not (rd/f).exists()] == []
        params, metrics = json.loads((rd/'params.json').read_text()), json.loads((rd/'metrics.json').read_text())
        assert params['study'] == 'tiny' and params['backbone'] == 'cnn_small' and len(params['params_hash']) == 12
        assert params['hparams']['epochs'] == 2 and params['classes'] == [str(i) for i in range(10)]
        assert set(json.loads((rd/'env.json').read_text())) >= {'packages', 'git_commit', 'device', 'seed'}
        hist = pd.read_csv(rd/'history.csv')
        assert list(hist.epoch) == [1, 2] and {'train_loss', 'acc', 'macro_f1', 'nll', 'lr', 'time_s'} <= set(hist.columns)
        assert metrics['valid']['acc'] == max(hist.acc) if metrics['select_metric'] == 'acc' else True
        nb = nbformat.read(rd/'notebook.ipynb', as_version=4)
        assert any(c.get('outputs') for c in nb.cells if c.cell_type == 'code')   # executed, outputs kept
        model, p = load_checkpoint(rd/'model.pt')
        assert p['num_classes'] == 10 and model(torch.zeros(2, 1, 8, 8)).shape == (2, 10)


def test_oof_covers_every_training_sample_exactly_once(digits_study):
    study_dir, _ = digits_study
    for backbone in ['cnn_small', 'resnet_small']:
        oof = pd.concat([pd.read_parquet(rd/'oof.parquet') for rd in runs_of(study_dir, backbone)])
        assert list(oof.columns) == ['id', 'fold', 'label'] + [f'logit_{i}' for i in range(10)]
        assert len(oof) == len(load_digits().target) and oof.id.is_unique
        assert sorted(oof.fold.unique()) == [0, 1, 2]
        folds = pd.read_csv(study_dir/'digits'/'folds.csv', dtype={'id': str})
        assert (oof.set_index('id').fold == folds.set_index('id').fold.loc[oof.id]).all()   # one fold assignment, reused
        acc = (oof.filter(like='logit_').to_numpy().argmax(1) == oof.label).mean()
        assert acc > 0.5, acc   # real learning, 2 epochs


def test_grid_summary_and_no_leftovers(digits_study):
    study_dir, r = digits_study
    assert 'done' in r.stdout and 'resnet_small' in r.stdout
    summary = pd.read_csv(study_dir/'grid_summary.csv')
    assert len(summary) == 6 and (summary.status == 'done').all()
    assert not list(study_dir.rglob('.*partial*')) and not list(study_dir.rglob('.*.tmp*'))


def test_test_split_predictions(tmp_path):
    "A task with an official test split writes test.parquet (one row per test image) and test metrics."
    p = write_study(tmp_path, "study: fm\ntasks: [fashion_mnist]\nbackbones: [cnn_small]\nfolds: 2\n"
                    "task_args: {fashion_mnist: {max_per_class: 20, test_max_per_class: 10}}\n" + TINY.replace('img_size: 8', 'img_size: 28'))
    vlab('run', p, '--runs', tmp_path/'runs', cwd=tmp_path, check=True)
    rd = tmp_path/'runs/fm/fashion_mnist/cnn_small/base/fold0'
    test = pd.read_parquet(rd/'test.parquet')
    assert len(test) == 100 and test.id.is_unique and test.id.str.startswith('test-').all()
    assert 'test' in json.loads((rd/'metrics.json').read_text())
    assert len(pd.read_parquet(rd/'oof.parquet')) == 100   # half of the 200 train images

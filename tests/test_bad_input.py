"""Bad input stops a study before any training, with a message that names the file, row or key."""
import pandas as pd
from visionlab.data import make_demo_csv, TEXTILE_CLASSES
from conftest import vlab, write_study, TINY

CSV_STUDY = ("study: user\ntasks: [csv]\nbackbones: [cnn_small]\nfolds: 2\n{extra}"
             "task_args: {{csv: {{csv: {csv}, classes: [nominal, local, global]}}}}\n")


def run_csv(tmp_path, extra='', **kw):
    csv = make_demo_csv(tmp_path/'data', n_per_class=6, **kw)
    p = write_study(tmp_path, CSV_STUDY.format(csv=csv, extra=extra) + TINY)
    return vlab('run', p, '--runs', tmp_path/'runs', cwd=tmp_path), tmp_path/'runs/user'


def test_bad_images_stop_the_study_naming_rows_and_files(tmp_path):
    r, sd = run_csv(tmp_path)
    assert r.returncode != 0 and 'Traceback' not in r.stderr
    assert 'train row 18 (id img/truncated.jpg, CSV line 20): unreadable image' in r.stderr            # corrupt image
    assert 'train row 19 (id img/missing.jpg, CSV line 21): missing file' in r.stderr                  # missing file
    assert "train row 20 (id img/extra.jpg, CSV line 22): unknown label 'scratch'" in r.stderr         # unknown label
    assert 'train row 21 (id img/nominal_textile_0003.jpg, CSV line 23): duplicate id (first at row 2)' in r.stderr  # duplicate id
    assert not list(sd.rglob('fold*'))                                                    # nothing trained
    assert len(pd.read_csv(sd/'csv/validation_report.csv')) == 4


def test_quarantine_excludes_and_lists_bad_images(tmp_path):
    r, sd = run_csv(tmp_path, extra='quarantine: true\n')
    assert r.returncode == 0, r.stderr
    q = pd.read_csv(sd/'csv/quarantine.csv')
    assert sorted(q.row) == [18, 19, 20, 21] and (tmp_path/'data/img/truncated.jpg').exists()   # listed, never deleted
    folds = pd.read_csv(sd/'csv/folds.csv')
    assert len(folds) == 18 and 'img/truncated.jpg' not in set(folds.id)


def test_group_leakage_fails_the_study(tmp_path):
    r, sd = run_csv(tmp_path, bad=False)
    assert r.returncode == 0, r.stderr
    folds = pd.read_csv(sd/'csv/folds.csv')
    g = folds.group.iloc[0]; folds.loc[folds.group == g, 'fold'] = [i % 2 for i in range((folds.group == g).sum())]
    folds.to_csv(sd/'csv/folds.csv', index=False)
    r = vlab('run', tmp_path/'study.yaml', '--runs', tmp_path/'runs', cwd=tmp_path)
    assert r.returncode != 0 and f"group '{g}' is in folds [0, 1]" in r.stderr and 'folds.csv' in r.stderr


def test_unknown_study_key_is_named(tmp_path):
    p = write_study(tmp_path, "study: s\ntasks: [digits]\nbackbones: [cnn_small]\nrecipe: {epochs: 2, warmup: 1}\n")
    r = vlab('run', p, cwd=tmp_path)
    assert r.returncode != 0 and "unknown key 'recipe.warmup'" in r.stderr and str(p) in r.stderr


def test_wrong_type_is_named(tmp_path):
    p = write_study(tmp_path, "study: s\ntasks: [digits]\nbackbones: [cnn_small]\nfolds: five\n")
    r = vlab('run', p, cwd=tmp_path)
    assert r.returncode != 0 and "'folds' must be int" in r.stderr

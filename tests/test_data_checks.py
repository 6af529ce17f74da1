"""Data checks of issue 5: a typo'd label posing as a class (item 1), a CSV without its columns (item 3),
and validation that decodes each image once, in threads, cached per study (item 8)."""
import hashlib, json, os, shutil
import numpy as np, pandas as pd, pytest
from PIL import Image
import conformal_clip_data as ccd
from visionlab.data import (get_task, make_demo_csv, scan_images, checked_task, class_counts, DataError, CACHE_FILE)
from visionlab.folds import prepare_task
from conftest import vlab, write_study, TINY

STUDY = ("study: user\ntasks: [csv]\nbackbones: [cnn_small]\nfolds: 2\n{extra}"
         "task_args: {{csv: {{csv: {csv}}}}}\n")   # no `classes:`: they are inferred from the labels


def typo_csv(folder, label='scratchh'):
    "Demo CSV (6 real textile images per class, lines 2-19) plus one new image labelled `label` on CSV line 20."
    csv = make_demo_csv(folder, n_per_class=6, bad=False)
    src = sorted((ccd.textile_simulated_root()/'local').glob('*.jpg'))[10]     # not among the 6 copied ones
    shutil.copy(src, folder/'img/typo.jpg')
    csv.write_text(csv.read_text() + f'img/typo.jpg,{label},g9\n')
    return csv


def run_study(tmp_path, csv, extra=''):
    p = write_study(tmp_path, STUDY.format(csv=csv, extra=extra) + TINY)
    return vlab('run', p, '--runs', tmp_path/'runs', cwd=tmp_path), tmp_path/'runs/user'


# item 1: a typo'd label is caught --------------------------------------------------------------------------

def test_typo_label_stops_prepare_naming_label_count_and_line(tmp_path):
    td = get_task('csv', csv=str(typo_csv(tmp_path/'data')))
    assert td.inferred and 'scratchh' in td.classes
    with pytest.raises(DataError) as e: prepare_task(td, tmp_path/'task', 2)
    msg = str(e.value)
    assert "train row 18 (id img/typo.jpg, CSV line 20): label 'scratchh' has 1 image (CSV line 20), fewer than 2" in msg
    assert 'classes: [...]' in msg and not (tmp_path/'task/folds.csv').exists()
    with pytest.raises(DataError, match="label 'nominal' has 6 images .* fewer than 7"): prepare_task(td, tmp_path/'t7', 2, min_per_class=7)
    with pytest.raises(DataError, match='fewer than 7'): prepare_task(td, tmp_path/'t0', 0, min_per_class=7)   # no folds: min_per_class alone


def test_quarantined_typo_drops_its_class_also_when_folds_are_reused(tmp_path):
    td = get_task('csv', csv=str(typo_csv(tmp_path/'data')))
    for _ in range(2):   # the second call reuses folds.csv and quarantine.csv
        q, folds = prepare_task(td, tmp_path/'task', 2, quarantine=True)
        assert q.classes == ['global', 'local', 'nominal'] and len(q.train) == 18 and sorted(folds.label.unique()) == [0, 1, 2]
    assert pd.read_csv(tmp_path/'task/quarantine.csv').row.tolist() == [18]
    assert class_counts(q).to_dict('list') == {'class': ['global', 'local', 'nominal'], 'train': [6, 6, 6], 'test': [0, 0, 0]}


def test_test_rows_of_a_dropped_class_stop_the_study(tmp_path):
    csv = typo_csv(tmp_path/'data')
    td = get_task('csv', csv=str(csv), test_csv=str(csv))
    with pytest.raises(DataError, match=r"test CSV line 20 \(ids img/typo.jpg\) have label\(s\) \['scratchh'\] dropped"):
        checked_task(td, quarantine=True, min_count=2)


def test_listed_classes_are_not_second_guessed(tmp_path):
    td = get_task('csv', csv=str(make_demo_csv(tmp_path, n_per_class=6, bad=False)), classes=['nominal', 'local', 'global'])
    assert not td.inferred and len(checked_task(td, min_count=7).train) == 18


def test_typo_label_stops_the_study_end_to_end(tmp_path):
    r, sd = run_study(tmp_path, typo_csv(tmp_path/'data'))
    assert r.returncode != 0 and 'Traceback' not in r.stderr, r.stderr
    assert "label 'scratchh' has 1 image (CSV line 20)" in r.stderr and '`classes: [...]`' in r.stderr
    assert not list(sd.rglob('fold*'))                                                     # nothing split, nothing trained


def test_min_per_class_stops_the_study_end_to_end(tmp_path):
    r, sd = run_study(tmp_path, make_demo_csv(tmp_path/'data', n_per_class=6, bad=False), extra='min_per_class: 7\n')
    assert r.returncode != 0 and "label 'global' has 6 images" in r.stderr and 'fewer than 7' in r.stderr, r.stderr
    assert not list(sd.rglob('fold*'))


def test_quarantined_typo_trains_without_its_class_end_to_end(tmp_path):
    r, sd = run_study(tmp_path, typo_csv(tmp_path/'data'), extra='quarantine: true\n')
    assert r.returncode == 0, r.stderr
    q = pd.read_csv(sd/'csv/quarantine.csv')
    assert q.row.tolist() == [18] and "label 'scratchh'" in q.problem[0]
    params = [json.loads(p.read_text()) for p in sd.rglob('params.json')]
    assert params and all(p['classes'] == ['global', 'local', 'nominal'] for p in params)
    assert (sd/'csv'/CACHE_FILE).exists()


# item 3: a CSV without its columns ---------------------------------------------------------------------------

def test_csv_without_label_column_names_file_and_column(tmp_path):
    csv = make_demo_csv(tmp_path, n_per_class=2, bad=False)
    pd.read_csv(csv).rename(columns={'label': 'class'}).to_csv(csv, index=False)
    with pytest.raises(DataError, match=r"train.csv: missing column\(s\) \['label'\]") as e: get_task('csv', csv=str(csv))
    assert str(csv) in str(e.value)
    csv.write_text('path,label\nimg/a.jpg,ok\nimg/b.jpg,ok,x,y\n')                        # unparseable
    with pytest.raises(DataError, match='train.csv: not a readable CSV'): get_task('csv', csv=str(csv))
    with pytest.raises(FileNotFoundError): get_task('csv', csv=str(tmp_path/'nope.csv'))


# item 8: one decode per image, in threads, cached ------------------------------------------------------------

def pixel_sha1(path, mode='RGB'):
    with Image.open(path) as im: return hashlib.sha1(np.ascontiguousarray(np.asarray(im.convert(mode))).tobytes()).hexdigest()


def test_scan_is_cached_and_redecodes_only_changed_files(tmp_path):
    td = get_task('csv', csv=str(make_demo_csv(tmp_path/'data', n_per_class=6, bad=False)))
    cache = tmp_path/'task'/CACHE_FILE
    s1 = scan_images(td, cache=cache, workers=2, progress=False)
    assert s1.attrs['decoded'] == 18 and s1.problem.isna().all()
    assert s1.hash.tolist() == [pixel_sha1(tmp_path/'data'/p) for p in td.train.path]    # SHA-1 of the decoded pixels
    s2 = scan_images(td, cache=cache, progress=False)
    assert (s2.attrs['decoded'], s2.attrs['cached']) == (0, 18) and s2.hash.tolist() == s1.hash.tolist()
    f = tmp_path/'data'/td.train.path[3]; st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))                             # touched: decoded again
    assert scan_images(td, cache=cache, progress=False).attrs['decoded'] == 1
    shutil.copy(tmp_path/'data'/td.train.path[0], f)                                     # rewritten with other pixels
    s3 = scan_images(td, cache=cache, progress=False)
    assert s3.attrs['decoded'] == 1 and s3.hash[3] == s1.hash[0] != s1.hash[3]
    assert scan_images(td, cache=cache, progress=False).attrs['decoded'] == 0


def test_truncated_image_is_reported_with_the_cache_on(tmp_path):
    td = get_task('csv', csv=str(make_demo_csv(tmp_path/'data', n_per_class=2)), classes=['nominal', 'local', 'global'])
    for _ in range(2):                                                                    # the rerun reads the cache
        with pytest.raises(DataError, match=r'CSV line 8\): unreadable image .* -- .*img/truncated.jpg'): checked_task(td, tmp_path/'task')
    s = scan_images(td, cache=tmp_path/'task'/CACHE_FILE, progress=False)
    assert s.attrs == dict(decoded=0, cached=8, missing=1) and s.problem[6].startswith('unreadable image') and s.problem[7] == 'missing file'


def test_prepare_reuses_the_validation_hashes(tmp_path):
    td = get_task('csv', csv=str(make_demo_csv(tmp_path/'data', n_per_class=4, bad=False)))
    checked, folds = prepare_task(td, tmp_path/'task', 2)
    assert folds.hash.tolist() == checked.train.hash.tolist() == [pixel_sha1(tmp_path/'data'/p) for p in td.train.path]

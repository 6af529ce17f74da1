"""The review page end to end: a real grid's OOF makes the queue, a headless Chromium presses its keys, the decisions land
in review.csv, a study that applies them trains on the reviewed labels, and changing them makes the grid redo the runs."""
import json, subprocess, time
from pathlib import Path
import numpy as np, pandas as pd, pytest
from PIL import Image
from sklearn.datasets import load_digits
from conftest import VLAB, headless_chromium, vlab, write_study

TINY = "recipe: {epochs: 2, img_size: 8, batch_size: 64, warmup_epochs: 0.3, eval_batch_size: 256, tta: none, robust: []}\n"
STUDY = "study: tiny\ntasks: [digits]\nbackbones: [cnn_small]\nfolds: 2\n" + TINY


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    "A real 2-fold digits grid (cnn_small, 2 epochs): the OOF predictions a review starts from."
    d = tmp_path_factory.mktemp('review')
    vlab('run', write_study(d, STUDY), '--runs', d/'runs', '--workers', 2, cwd=d, check=True)
    return d


def _serve(study_dir, cwd):
    "Start `vlab review <study> --no_browser`; returns (process, the URL it printed)."
    p = subprocess.Popen([VLAB, 'review', str(study_dir), '--no_browser'], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(5):
        line = p.stdout.readline().strip()
        if line.startswith('http://127.0.0.1:'): return p, line
    p.kill(); raise AssertionError(f'no URL printed by vlab review: {p.stderr.read()}')


def _log(study_dir): return pd.read_csv(Path(study_dir)/'digits'/'review.csv', dtype=str, keep_default_na=False)


@pytest.mark.browser
def test_review_page_in_chromium(tiny):
    "Keys K, P, digit+Enter, S, N, U on the page append the right lines to review.csv; undo appends a reversal; the page is not blank."
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    sd = tiny/'runs'/'tiny'; (sd/'digits'/'review.csv').unlink(missing_ok=True)
    proc, url = _serve(sd, tiny)
    drv = headless_chromium(860)
    try:
        assert url.startswith('http://127.0.0.1:') and not url.endswith(':0/')
        drv.get(url)
        body = drv.find_element(By.TAG_NAME, 'body')
        cur = lambda: body.get_attribute('data-id')
        WebDriverWait(drv, 20).until(lambda d: cur())
        assert 'K' in drv.find_element(By.ID, 'keys').text and 'keep the given label' in drv.find_element(By.ID, 'keys').text
        assert drv.find_element(By.ID, 'progress').text == '0 / 1797 reviewed'

        def press(*keys):
            before = cur(); n = len(_log(sd)) if (sd/'digits/review.csv').exists() else 0
            for k in keys: body.send_keys(k)
            WebDriverWait(drv, 20).until(lambda d: cur() != before and (sd/'digits/review.csv').exists() and len(_log(sd)) > n)
            return before

        given = lambda: drv.find_element(By.ID, 'label').text.split(': ', 1)[1]
        a = press('k')
        pred, given_b = drv.find_element(By.ID, 'predname').text.split(': ', 1)[1], given()
        b = press('p')
        given_c = given(); c = press('3', '\ue007')          # 3 then Enter: relabel as class '3'
        d = press('s')
        skipped = cur(); body.send_keys('n'); WebDriverWait(drv, 20).until(lambda dr: cur() != skipped)
        log = _log(sd)
        assert log.id.tolist() == [a, b, c, d]               # the skip wrote nothing
        assert log.decision.tolist() == ['keep', 'relabel' if pred != given_b else 'keep', 'relabel' if given_c != '3' else 'keep', 'set_aside']
        assert log.new_label.tolist()[1:3] == [pred if pred != given_b else '', '3' if given_c != '3' else '']
        assert drv.find_element(By.ID, 'progress').text == '4 / 1797 reviewed'
        body.send_keys('u'); WebDriverWait(drv, 20).until(lambda dr: cur() == d)   # undo: the set-aside image comes back
        log = _log(sd)
        assert log.iloc[-1][['id', 'decision']].tolist() == [d, 'undo'] and len(log) == 5   # a reversal appended, nothing rewritten
        assert drv.find_element(By.ID, 'progress').text == '3 / 1797 reviewed'
        assert drv.execute_script("return document.getElementById('img').complete && document.getElementById('img').naturalWidth") == 256
        shot = tiny/'review_page.png'; drv.save_screenshot(str(shot))
        px = np.asarray(Image.open(shot).convert('L'), dtype=float)
        assert px.shape[1] >= 1000 and px.std() > 30, f'screenshot looks blank (std {px.std():.1f})'
    finally:
        drv.quit(); proc.terminate(); proc.wait(10)


def _noisy_digits_csv(folder, share=0.05, seed=0):
    "sklearn digits as PNG files and a CSV task whose labels have `share` of them flipped (seeded); returns (csv, flipped ids)."
    X, y = load_digits(return_X_y=True); rng = np.random.default_rng(seed)
    flip = rng.choice(len(y), int(round(share * len(y))), replace=False)
    noisy = y.copy(); noisy[flip] = (y[flip] + rng.integers(1, 10, len(flip))) % 10
    (folder/'img').mkdir(parents=True)
    for i, im in enumerate(X.reshape(-1, 8, 8)): Image.fromarray((im * 16).clip(0, 255).astype(np.uint8)).save(folder/f'img/{i:04d}.png')
    ids = [f'd{i:04d}' for i in range(len(y))]
    pd.DataFrame(dict(path=[f'img/{i:04d}.png' for i in range(len(y))], label=noisy, id=ids)).to_csv(folder/'digits.csv', index=False)
    return folder/'digits.csv', {ids[i] for i in flip}


def test_planted_label_noise_is_queued_first(tmp_path):
    "Flip 5% of the digits labels, run the real grid, and find at least half of the flipped images in the first 10% of the queue."
    from visionlab.review import doubt_table
    csv, flipped = _noisy_digits_csv(tmp_path)
    study = (f"study: noisy\ntasks: [csv]\nbackbones: [cnn_small]\nfolds: 3\n"
             f"task_args: {{csv: {{csv: {csv}, channels: 1, classes: ['0','1','2','3','4','5','6','7','8','9']}}}}\n"
             "recipe: {epochs: 6, img_size: 8, batch_size: 64, lr: 3.0e-3, warmup_epochs: 1, augment: none, tta: none, robust: []}\n")
    vlab('run', write_study(tmp_path, study), '--runs', tmp_path/'runs', '--workers', 2, cwd=tmp_path, check=True)
    q = doubt_table(tmp_path/'runs'/'noisy')
    head = set(q.id[:len(q) // 10]); found = len(flipped & head) / len(flipped)
    print(f'{len(flipped & head)} of {len(flipped)} flipped labels ({found:.0%}) in the first 10% ({len(head)}) of the queue')
    (tmp_path/'found.json').write_text(json.dumps(dict(found=len(flipped & head), flipped=len(flipped), head=len(head))))
    assert found >= 0.5


def test_study_applies_review_and_redoes_runs(tiny):
    "A study naming the review trains without the set-aside rows and on the new labels; more keeps reuse its runs, a new relabel redoes them."
    from visionlab.review import append_decision, review_table
    from visionlab.config import load_study
    from visionlab.grid import check_grid, expand_grid, is_complete
    sd = tiny/'runs'/'tiny'; log = sd/'digits'/'review.csv'; log.unlink(missing_ok=True)
    oof = pd.concat(pd.read_parquet(p) for p in sd.glob('digits/cnn_small/base/fold*/oof.parquet')).set_index('id')
    a, b, c = 'digits-00010', 'digits-00011', 'digits-00012'
    new_a = str((oof.label[a] + 1) % 10)
    append_decision(log, a, 'relabel', new_a); append_decision(log, b, 'set_aside'); append_decision(log, c, 'set_aside'); append_decision(log, c, 'undo')
    clean = write_study(tiny, STUDY.replace('study: tiny', 'study: clean') + f'review: {sd}\n')
    vlab('run', clean, '--runs', tiny/'runs', '--workers', 2, cwd=tiny, check=True)
    cd = tiny/'runs'/'clean'
    todo = lambda p: [Path(sp.run_dir).name for sp in expand_grid(check_grid(load_study(p)), tiny/'runs') if not is_complete(sp)]
    def oof_of(study_dir): return pd.concat(pd.read_parquet(p) for p in sorted(study_dir.glob('digits/cnn_small/base/fold*/oof.parquet'))).set_index('id')
    o = oof_of(cd)
    assert len(o) == 1796 and b not in o.index and c in o.index          # set aside: excluded; the undone one kept
    assert str(o.label[a]) == new_a and (o.drop(index=a).label == oof.label.loc[o.drop(index=a).index]).all()   # relabelled, nothing else
    assert (o.fold == oof.fold.loc[o.index]).all()                      # the surviving rows keep their folds
    key = json.loads((next(cd.glob('digits/cnn_small/base/fold0')) / 'params.json').read_text())['review']
    assert len(key) == 12 and (cd/'digits'/'review_applied.csv').exists()
    append_decision(log, 'digits-00013', 'keep')                          # a keep changes no label: the runs stay
    assert todo(clean) == []
    append_decision(log, 'digits-00014', 'relabel', str((oof.label['digits-00014'] + 1) % 10))   # a new relabel: every run is redone
    assert todo(clean) == ['fold0', 'fold1']
    vlab('run', clean, '--runs', tiny/'runs', '--workers', 2, cwd=tiny, check=True)
    assert pd.read_csv(cd/'grid_summary.csv').status.tolist() == ['done', 'done']
    o2 = oof_of(cd); assert str(o2.label['digits-00014']) != str(oof.label['digits-00014']) and str(o2.label[a]) == new_a
    assert json.loads((cd/'digits/cnn_small/base/fold0/params.json').read_text())['review'] != key
    t = review_table(cd, 'digits')                                         # the paper view: counts, and acc before / after
    assert list(t.index) == ['tiny (before review)', 'clean (after review)']
    assert t.loc['clean (after review)', ['reviewed', 'kept', 'relabelled', 'set_aside']].tolist() == [4, 1, 2, 1]
    assert t.acc.between(0.2, 1).all()
    assert todo(write_study(tiny, STUDY)) == []                           # the reviewed study itself is untouched

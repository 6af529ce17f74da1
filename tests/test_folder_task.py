"""`task: folder` end to end (issue 24): class folders of real digit photos through `vlab run`, with copies planted in
train and test (warned about, listed in duplicates.csv, kept in one fold), a ViT built for the recipe's img_size, and a
bad folder stopping the study with one line that names it."""
import shutil
import pandas as pd, torch
from PIL import Image, ImageEnhance
from visionlab.folder import make_demo_folder
from visionlab.train import load_checkpoint
from conftest import vlab, write_study

STUDY = ("study: photos\ntasks: [folder]\nbackbones: [{backbones}]\nfolds: 2\nquarantine: true\n"
         "task_args: {{folder: {{root: {root}}}}}\n"
         "recipe: {{epochs: 1, img_size: 32, batch_size: 16, warmup_epochs: 0.3, eval_batch_size: 64, robust: [], resize: pad}}\n")


def one_line_error(r, *parts):
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith('error: '), (r.returncode, r.stderr)
    for p in parts: assert p in lines[0], (p, lines[0])


def test_folder_study_warns_about_copies_and_keeps_them_in_one_fold(tmp_path):
    root = make_demo_folder(tmp_path/'photos', n_per_class=20, n_test=5)
    shutil.copy(root/'train/zero/zero_0000.png', root/'train/one/copy_of_zero.png')                       # exact copy, other class
    ImageEnhance.Brightness(Image.open(root/'train/one/one_0001.png')).enhance(1.1).save(root/'train/one/brighter.png')  # near copy
    shutil.copy(root/'train/one/one_0011.png', root/'test/one/leaked.png')                                 # a copy in test
    (root/'train/zero/notes.txt').write_text('shot on 3 May')                                              # not an image
    p = write_study(tmp_path, STUDY.format(root=root, backbones='cnn_small, vit_tiny_patch16_224'))
    r = vlab('run', p, '--workers', 2, '--runs', tmp_path/'runs', cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    sd = tmp_path/'runs/photos/folder'
    assert f"leakage: 1 test image(s) have a copy in train (1 exact, 0 near pairs; see {sd/'duplicates.csv'})" in r.stdout
    assert 'duplicates: 4 train images have a copy in train (1 exact, 1 near pairs)' in r.stdout
    assert 'duplicates: 1 pair(s) of copies have different labels' in r.stdout
    d = pd.read_csv(sd/'duplicates.csv')
    assert d[['split_b', 'kind', 'id_a', 'id_b']].values.tolist() == [
        ['train', 'exact', 'one/copy_of_zero.png', 'zero/zero_0000.png'], ['train', 'near', 'one/brighter.png', 'one/one_0001.png'],
        ['test', 'exact', 'one/one_0011.png', 'one/leaked.png']]
    folds = pd.read_csv(sd/'folds.csv').set_index('id').fold
    assert folds['one/copy_of_zero.png'] == folds['zero/zero_0000.png'] and folds['one/brighter.png'] == folds['one/one_0001.png']
    assert pd.read_csv(sd/'quarantine.csv').id.tolist() == ['zero/notes.txt'] and 'zero/notes.txt' not in folds
    assert len(list(sd.glob('*/base/fold*/DONE'))) == 4                                                 # both backbones, both folds
    vit, params = load_checkpoint(sd/'vit_tiny_patch16_224/base/fold0/model.pt')                       # built for 32 px again
    assert tuple(vit.patch_embed.grid_size) == (2, 2) and vit(torch.zeros(2, 3, 32, 32)).shape == (2, 2)


def test_a_bad_folder_stops_the_study_with_one_line_naming_it(tmp_path):
    root = make_demo_folder(tmp_path/'photos', n_per_class=4); (root/'two').mkdir()
    p = write_study(tmp_path, STUDY.format(root=root, backbones='cnn_small'))
    one_line_error(vlab('run', p, '--runs', tmp_path/'runs', cwd=tmp_path), f"root {root/'two'}: empty class folder, no image files")
    shutil.rmtree(root/'two'); (tmp_path/'testset/two').mkdir(parents=True); shutil.copy(root/'one/one_0001.png', tmp_path/'testset/two')
    p.write_text(p.read_text().replace(f'root: {root}', f"root: {root}, test_root: {tmp_path/'testset'}"))
    one_line_error(vlab('run', p, '--runs', tmp_path/'runs', cwd=tmp_path), "class 'two' is only in the test split (train classes: one, zero)")
    assert not (tmp_path/'runs').exists() or not list((tmp_path/'runs').rglob('fold*'))

"""Use a finished study from the command line: `vlab predict` on new images (one unreadable) and `vlab export` to ONNX, on a tiny
study of real digits saved as PNG files (the `csv` task, as a user's own images would be)."""
import json
import numpy as np, pandas as pd, yaml
from PIL import Image
from sklearn.datasets import load_digits
from conftest import vlab


def _study(tmp_path):
    X, y = load_digits(return_X_y=True); keep = np.flatnonzero(y < 3)[:150]; (tmp_path/'img').mkdir()
    rows = [(f'img/{i:04d}.png', f'd{y[i]}') for i in keep]
    for (p, _), i in zip(rows, keep): Image.fromarray((X[i].reshape(8, 8) * 15.9).astype(np.uint8)).save(tmp_path/p)
    df = pd.DataFrame(rows, columns=['path', 'label']); df[:120].to_csv(tmp_path/'train.csv', index=False); df[120:].to_csv(tmp_path/'test.csv', index=False)
    s = dict(study='dep', tasks=['csv'], task_args={'csv': dict(csv=str(tmp_path/'train.csv'), test_csv=str(tmp_path/'test.csv'), channels=1)},
             backbones=['cnn_small'], folds=2, seed=0, threads=1, recipe=dict(epochs=1, img_size=16, batch_size=32, robust=[]))
    (tmp_path/'dep.yaml').write_text(yaml.safe_dump(s)); return tmp_path/'dep.yaml', df[120:]


def test_predict_and_export_from_the_command_line(tmp_path):
    "vlab predict writes one row per readable image (the unreadable one named once), vlab export writes ONNX files and a card."
    study, test = _study(tmp_path)
    vlab('run', study, '--runs', tmp_path/'runs', cwd=tmp_path, check=True)
    new = tmp_path/'new'; new.mkdir()
    for p in test.path[:5]: (new/p.split('/')[-1]).write_bytes((tmp_path/p).read_bytes())
    (new/'broken.png').write_bytes(b'\x89PNG not really')
    r = vlab('predict', tmp_path/'runs'/'dep', '--images', new, '--out', tmp_path/'pred.csv', cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert sum('broken.png' in l for l in lines) == 1 and '5 of 6 images predicted by ' in r.stdout and '(2 fold models' in r.stdout, r.stdout
    pred = pd.read_csv(tmp_path/'pred.csv'); info = json.loads((tmp_path/'pred.json').read_text())
    assert len(pred) == 5 and set(pred.label) <= {'d0', 'd1', 'd2'} and np.allclose(pred.filter(like='prob_').sum(axis=1), 1, atol=1e-5)
    assert (pred.low_confidence == (pred.confidence < info['threshold']['threshold'])).all() and info['unreadable'][0]['path'].endswith('broken.png')
    r = vlab('export', tmp_path/'runs'/'dep', '--format', 'onnx', '--model', 'cnn_small', '--out', tmp_path/'onnx', cwd=tmp_path)
    assert r.returncode == 0 and '2 onnx files of cnn_small' in r.stdout, r.stdout + r.stderr
    card = json.loads((tmp_path/'onnx'/'model_card.json').read_text())
    assert card['classes'] == ['d0', 'd1', 'd2'] and max(f['max_abs_diff'] for f in card['files']) <= 1e-4 and card['lock_sha256']
    r = vlab('predict', tmp_path/'runs'/'dep', '--images', new, '--model', 'nope', cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.strip().startswith("error: model 'nope' is not in"), r.stderr

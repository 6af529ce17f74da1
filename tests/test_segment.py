"""Segmentation through the real grid: a tiny Fashion-MNIST mosaic study (fit_seg runs in the same run-folder protocol), resumed, then its paper."""
import json
import numpy as np, pandas as pd
from conftest import vlab, write_study


def test_seg_study_to_paper(tmp_path):
    "3 folds of a U-Net on 90 mosaics: run folders with masks, confusions and scores; a rerun redoes nothing; vlab paper writes the assets."
    p = write_study(tmp_path, "study: seg\ntasks: [fmnist_seg]\nbackbones: [efficientnet_lite0]\nfolds: 3\n"
                              "task_args: {fmnist_seg: {n_train: 90, n_test: 30}}\n"
                              "recipe: {epochs: 1, batch_size: 32, eval_batch_size: 64, seg_tta: flips, robust: []}\n")
    r = vlab('run', p, '--workers', 2, '--runs', tmp_path/'runs', cwd=tmp_path, check=True)
    run = tmp_path/'runs'/'seg'/'fmnist_seg'/'efficientnet_lite0'/'base'/'fold0'
    for f in ['DONE', 'oof.parquet', 'test.parquet', 'oof_masks.npz', 'test_masks.npz', 'oof_confusion.npy', 'test_confusion.npy', 'model.pt', 'history.csv']:
        assert (run/f).exists(), f
    m = json.loads((run/'metrics.json').read_text()); oof = pd.read_parquet(run/'oof.parquet')
    assert 0 <= m['valid']['miou'] <= 1 and len(m['valid']['iou']) == 11 and len(oof) == 30
    masks = np.load(run/'oof_masks.npz'); assert masks['pred'].shape == (30, 64, 64) and list(masks['ids']) == oof.id.tolist()
    assert np.load(run/'oof_confusion.npy').sum() == 30 * 64 * 64
    r = vlab('run', p, '--runs', tmp_path/'runs', cwd=tmp_path, check=True)
    assert 'seg: 3 runs, 3 complete, 0 to run' in r.stdout
    vlab('paper', tmp_path/'runs'/'seg', '--out', tmp_path/'paper', cwd=tmp_path, check=True)
    t = pd.read_csv(tmp_path/'paper'/'tables'/'segmentation.csv')
    assert t.model.tolist() == ['efficientnet_lite0/base'] and t.folds[0] == 3 and {'oof_miou_mean', 'test_miou_mean'} <= set(t.columns)
    assert (tmp_path/'paper'/'figures'/'seg_best_worst.png').exists() and (tmp_path/'paper'/'tables'/'segmentation_per_class.csv').exists()
    assert (t.oof_miou_lo <= t.oof_miou).all() and (t.oof_miou <= t.oof_miou_hi).all() and (t.test_miou_lo <= t.test_miou_hi).all()
    pc = pd.read_csv(tmp_path/'paper'/'tables'/'segmentation_per_class.csv', index_col='class')
    assert list(pc.columns) == ['efficientnet_lite0/base', 'efficientnet_lite0/base_lo', 'efficientnet_lite0/base_hi'] and len(pc) == 11
    assert '95\\% interval over images' in (tmp_path/'paper'/'tables'/'segmentation_per_class.tex').read_text()

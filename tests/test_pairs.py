"""Pair-expert tasks (issue 8): `<task>.<a>v<b>` trains through the real grid like any task, on the parent's ids and
folds, so its out-of-fold rows can be combined with the parent's models honestly."""
import pandas as pd
from visionlab.routing import EXPERT_THRESHOLDS
from conftest import vlab, write_study

STUDY = """study: pairs
tasks: [digits, digits.3v8]
backbones: [cnn_small]
folds: 2
recipe: {epochs: 1, img_size: 8, batch_size: 64, warmup_epochs: 0.3, eval_batch_size: 256, robust: []}
"""


def test_pair_expert_shares_ids_and_folds(tmp_path):
    vlab('run', write_study(tmp_path, STUDY), '--workers', 2, '--runs', tmp_path/'runs', cwd=tmp_path, check=True)
    root = tmp_path/'runs'/'pairs'
    parent = pd.concat(pd.read_parquet(p) for p in sorted((root/'digits').glob('cnn_small/base/fold*/oof.parquet')))
    expert = pd.concat(pd.read_parquet(p) for p in sorted((root/'digits.3v8').glob('cnn_small/base/fold*/oof.parquet')))
    assert len(expert) == (parent.label.isin([3, 8])).sum() > 300                # every 3 and 8, once
    joined = expert.merge(parent, on='id', suffixes=('_x', '_p'))
    assert len(joined) == len(expert) and (joined.fold_x == joined.fold_p).all()    # same ids, same folds
    assert ((joined.label_p == 8) == (joined.label_x == 1)).all()                  # 3 -> 0, 8 -> 1
    assert sorted(c for c in expert if c.startswith('logit_')) == ['logit_0', 'logit_1']
    # the paper layer applies the expert to the parent's rows whose top-2 classes are {3, 8} (threshold by nested CV)
    vlab('paper', root, '--out', tmp_path/'paper', cwd=tmp_path, check=True)
    et = pd.read_csv(tmp_path/'paper'/'digits'/'tables'/'experts.csv', index_col=0)
    assert list(et.index) == ['digits.3v8'] and (et.a.iloc[0], et.b.iloc[0]) == (3, 8)
    assert et.threshold.iloc[0] in EXPERT_THRESHOLDS and 0 <= et.oof_applied.iloc[0] <= et.oof_rows.iloc[0] == len(expert)
    assert abs(et.delta_oof.iloc[0] - 100 * (et.oof_acc_expert.iloc[0] - et.oof_acc.iloc[0])) < 1e-9
    assert (tmp_path/'paper'/'digits.3v8'/'tables'/'summary.tex').exists()     # the expert's own task is summarised too
    assert 'experts.tex' in (tmp_path/'paper'/'README.md').read_text()


def test_pair_before_parent_is_refused(tmp_path):
    bad = STUDY.replace('tasks: [digits, digits.3v8]', 'tasks: [digits.3v8, digits]')
    r = vlab('run', write_study(tmp_path, bad), '--dry_run', cwd=tmp_path)
    assert r.returncode == 2 and "list 'digits' before it" in r.stderr

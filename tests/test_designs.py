"""Issue 8 study designs and the paper of a whole study: a `grid:` block expands to the cartesian product of recipe
fields (readable, stable names; validated like every key), runs end to end on real digits with saved penultimate
features, and one `vlab paper` call covers every task, writes the figures and a README, and regenerates byte for byte."""
import json, shutil
from pathlib import Path
import numpy as np, pandas as pd, pytest
from PIL import Image
from conftest import vlab, write_study
from visionlab.config import StudyError, load_study, study_recipes
from visionlab.grid import expand_grid
from visionlab.figures import grid_design, grid_tables, run_scores

HEAD = "study: designs\ntasks: [digits]\nbackbones: [cnn_small, resnet_small]\nfolds: 3\n"
GRID4 = ['lr-0.001__weight_decay-0', 'lr-0.001__weight_decay-0.0005', 'lr-0.003__weight_decay-0', 'lr-0.003__weight_decay-0.0005']


@pytest.mark.parametrize('grid', ["{lr: [1e-3, 3.0e-3], weight_decay: [0, 5e-4]}",
                                  "{weight_decay: [0.0, 0.0005], lr: [0.001, 0.003]}"])
def test_grid_names_and_count(tmp_path, grid):
    "Every combination once, in a fixed order, named `<field>-<value>` joined by `__`, whatever the key order or number spelling."
    s = load_study(write_study(tmp_path, HEAD + f"recipe: {{epochs: 2}}\ngrid: {grid}\n"))
    rs = study_recipes(s)
    assert list(rs) == GRID4
    assert [(r.lr, r.weight_decay, r.epochs) for r in rs.values()] == [(1e-3, 0.0, 2), (1e-3, 5e-4, 2), (3e-3, 0.0, 2), (3e-3, 5e-4, 2)]
    runs = expand_grid(s, tmp_path/'runs')
    assert len(runs) == 2 * 4 * 3 and len({r.run_dir for r in runs}) == len(runs)
    assert runs[4].name == 'digits/cnn_small/lr-0.001__weight_decay-0.0005/fold1'


def test_three_field_grid_and_list_values(tmp_path):
    s = load_study(write_study(tmp_path, HEAD + "grid: {loss: [ce, focal], epochs: [1, 2], robust: [[], [jpeg, blur]]}\n"))
    names = list(study_recipes(s))
    assert len(names) == 8 and names[0] == 'epochs-1__loss-ce__robust-none' and names[-1] == 'epochs-2__loss-focal__robust-jpeg_blur'


@pytest.mark.parametrize('grid, error', [
    ("{lrr: [1e-3]}", "unknown key 'grid.lrr'"),
    ("{lr: []}", "'grid.lr' must be a non-empty list, got []"),
    ("{lr: 1e-3}", "'grid.lr' must be a non-empty list, got '1e-3'"),
    ("{epochs: [2, ten]}", "'grid.epochs' must be int, got str 'ten'"),
    ("{lr: [1e-3, 0.001]}", "'grid.lr' lists the value 0.001 twice"),
    ("[lr, 1e-3]", "'grid' must be dict"),
])
def test_grid_errors_name_the_key(tmp_path, grid, error):
    with pytest.raises(StudyError, match=None) as e: load_study(write_study(tmp_path, HEAD + f"grid: {grid}\n"))
    assert error in str(e.value), str(e.value)


def test_grid_is_not_mixed_with_vary_or_recipes(tmp_path):
    for extra, key in [("vary: {loss: [focal]}\n", 'vary'), ("recipes: {a: {}}\n", 'recipes')]:
        with pytest.raises(StudyError) as e: load_study(write_study(tmp_path, HEAD + "grid: {lr: [1e-3, 3e-3]}\n" + extra))
        assert f"'grid' cannot be combined with '{key}'" in str(e.value)


def test_dry_run_lists_the_grid(tmp_path):
    "`vlab run --dry_run` names the design and its recipes, then every run; nothing is written."
    p = write_study(tmp_path, HEAD + "grid: {lr: [1e-3, 3e-3], weight_decay: [0, 5e-4]}\n")
    r = vlab('run', p, '--dry_run', '--runs', tmp_path/'runs', cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"recipes (grid lr[2] x weight_decay[2], 4): {', '.join(GRID4)}" in r.stdout
    assert '24 runs, 0 complete, 24 to run' in r.stdout and r.stdout.count('lr-0.003__weight_decay-0.0005') == 1 + 2 * 3
    assert not (tmp_path/'runs').exists()


# A whole study end to end: 2 tasks x a 2 x 1 grid x 2 folds = 8 real runs of 1 epoch at 8 px, every run saving features.
STUDY = """study: designs
tasks: [digits, digits_lt]
backbones: [cnn_small]
folds: 2
recipe: {epochs: 1, img_size: 8, batch_size: 64, warmup_epochs: 0.3, eval_batch_size: 512, robust: [], save_features: true}
grid: {lr: [3.0e-3, 1.0e-2], weight_decay: [0]}
"""
FIGURES = ['confusion_matrix', 'grid_heatmap', 'learning_curves', 'per_class_f1', 'progression', 'tsne']


@pytest.fixture(scope='module')
def grid_study(tmp_path_factory):
    d = tmp_path_factory.mktemp('designs')
    vlab('run', write_study(d, STUDY), '--workers', 2, '--runs', d/'runs', cwd=d, check=True)
    out = d/'paper'; (out/'tables').mkdir(parents=True); (out/'tables'/'bench_fit.tex').write_text('not made by vlab paper\n')
    r = vlab('paper', d/'runs'/'designs', '--out', out, cwd=d, check=True)
    return d/'runs'/'designs', out, r


def test_grid_runs_save_their_features(grid_study):
    sd, _, _ = grid_study
    runs = sorted(sd.glob('*/cnn_small/*/fold*'))
    assert [str(p.relative_to(sd)) for p in runs][:4] == ['digits/cnn_small/lr-0.003__weight_decay-0/fold0', 'digits/cnn_small/lr-0.003__weight_decay-0/fold1',
                                                         'digits/cnn_small/lr-0.01__weight_decay-0/fold0', 'digits/cnn_small/lr-0.01__weight_decay-0/fold1']
    assert len(runs) == 8
    for rd in runs:
        assert (rd/'DONE').exists()
        oof, f = pd.read_parquet(rd/'oof.parquet'), np.load(rd/'features.npy')
        assert f.shape == (len(oof), 128) and f.dtype == np.float32 and np.isfinite(f).all() and f.std() > 0   # cnn_small's 128 pooled features
        assert json.loads((rd/'params.json').read_text())['hparams']['lr'] == (3e-3 if 'lr-0.003' in rd.parent.name else 1e-2)


def test_one_paper_call_covers_every_task(grid_study):
    sd, out, r = grid_study
    for task in ['digits', 'digits_lt']:
        for f in FIGURES:
            png = out/task/'figures'/f'{f}.png'
            assert png.exists() and (out/task/'figures'/f'{f}.pdf').exists(), png
            assert [round(x) for x in Image.open(png).info['dpi']] == [300, 300]
        for t in ['summary', 'per_class_f1']: assert (out/task/'tables'/f'{t}.tex').exists() and (out/task/'tables'/f'{t}.csv').exists()
        assert (sd/task/'paper_summary.ipynb').exists()
    assert (out/'digits_lt'/'tables'/'longtail.tex').exists() and not (out/'digits'/'tables'/'longtail.tex').exists()   # digits is balanced
    commit = json.loads(next(sd.glob('digits/cnn_small/*/fold0/env.json')).read_text())['git_commit']
    md = (out/'README.md').read_text()
    for s in ["# Paper assets of study `designs`", 'from 8 complete runs (tasks: digits, digits_lt)', f'git commit `{commit or "unknown"}`',
              '## digits\n', '## digits_lt\n', '- `digits/figures/grid_heatmap.png`, `.pdf`: OOF metric over the two axes',
              '- `digits_lt/tables/longtail.tex`, `.csv`: ', '- `digits_lt/figures/tsne.png`, `.pdf`: 2-D t-SNE']:
        assert s in md, (s, md)
    assert 'bench_fit' not in md   # only what this call wrote
    assert md.count('\n- ') == sum(len({p.stem for p in (out/t/k).iterdir()}) for t in ['digits', 'digits_lt'] for k in ['tables', 'figures'])


def test_grid_heatmap_numbers_are_the_runs_own(grid_study):
    "The heatmap's cells (mean over folds of OOF acc) equal the mean of the accuracies each fit_fold run recorded."
    sd, _, _ = grid_study
    mean, _ = grid_tables(run_scores(sd, 'digits'), grid_design(sd))['cnn_small']
    assert (mean.index.name, mean.columns.name, mean.shape) == ('lr', 'weight_decay', (2, 1))
    for lr, name in [(3e-3, 'lr-0.003__weight_decay-0'), (1e-2, 'lr-0.01__weight_decay-0')]:
        accs = [json.loads(p.read_text())['valid']['acc'] for p in sorted(sd.glob(f'digits/cnn_small/{name}/fold*/metrics.json'))]
        assert len(accs) == 2 and abs(mean.loc[lr, 0.0] - np.mean(accs)) < 1e-12


@pytest.mark.slow   # a second `vlab paper` of both tasks, every figure kind: ~65 s of one core, so `make test-slow`
def test_regenerating_the_paper_is_byte_identical(grid_study, tmp_path):
    sd, out, _ = grid_study
    first = tmp_path/'first'; shutil.copytree(out, first)
    vlab('paper', sd, '--out', out, cwd=sd.parent.parent, check=True)
    files = sorted(p.relative_to(first) for p in first.rglob('*') if p.is_file())
    assert files == sorted(p.relative_to(out) for p in out.rglob('*') if p.is_file())
    assert {f.suffix for f in files} == {'.md', '.tex', '.csv', '.png', '.pdf'}
    different = [str(f) for f in files if (first/f).read_bytes() != (out/f).read_bytes()]
    assert different == [], different

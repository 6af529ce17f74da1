"""A fresh `make run` reproduces the committed `paper/quickstart/` tables: the quickstart study trained from scratch
(10 runs of 12 epochs, two workers) and its paper regenerated give the same `.tex` and `.csv` files, byte for byte, on a
CPU like the one that made them (the summary caption names it: `store.cpu_text`). On another CPU the float kernels
differ (an AVX-512 Xeon and an AVX2 EPYC trained the same runs to OOF accuracies up to 0.0028 apart: 5 of 1,797 digits),
so there every summary number must agree within 0.006 instead. Timings live in `bench/` and the README names the commit
that trained the runs, so those two are not compared. A few minutes: marked slow (`make test-slow`, which CI runs)."""
import difflib, filecmp
from pathlib import Path
import pandas as pd
import pytest
from conftest import vlab
from visionlab.store import cpu_text
from visionlab.report import latex_escape

ROOT = Path(__file__).resolve().parent.parent
OTHER_CPU_ATOL = 0.006


@pytest.mark.slow
def test_fresh_quickstart_reproduces_committed_tables(tmp_path):
    vlab('run', ROOT/'params'/'quickstart.yaml', '--workers', '2', '--runs', tmp_path/'runs', cwd=tmp_path, check=True, timeout=1500)
    vlab('paper', tmp_path/'runs'/'quickstart', '--out', tmp_path/'quickstart', cwd=tmp_path, check=True, timeout=900)
    committed, fresh = ROOT/'paper'/'quickstart'/'tables', tmp_path/'quickstart'/'tables'
    names = sorted(p.name for p in committed.glob('*') if p.suffix in ('.tex', '.csv'))
    assert len(names) >= 10 and 'summary.tex' in names, names
    assert sorted(p.name for p in fresh.glob('*') if p.suffix in ('.tex', '.csv')) == names
    if f', {latex_escape(cpu_text())},' not in (committed/'summary.tex').read_text():   # made on another CPU: numbers, not bytes
        old, new = pd.read_csv(committed/'summary.csv'), pd.read_csv(fresh/'summary.csv')
        assert list(old.columns) == list(new.columns) and list(old.iloc[:, 0]) == list(new.iloc[:, 0])
        num = old.select_dtypes('number').columns
        assert old[num].isna().equals(new[num].isna()), 'the summary has other missing numbers than the committed one'
        far = (old[num] - new[num]).abs().max().fillna(0.0)
        assert (far <= OTHER_CPU_ATOL).all(), f'on {cpu_text()}, summary numbers moved more than {OTHER_CPU_ATOL}:\n{far[far > OTHER_CPU_ATOL]}'
        pytest.skip(f'paper/quickstart was made on another CPU than {cpu_text()}: summary numbers agree within {OTHER_CPU_ATOL} '
                    f'(largest difference {far.max():.4f}); byte identity is checked on the CPU that made them')
    differ = [n for n in names if not filecmp.cmp(committed/n, fresh/n, shallow=False)]
    shown = ''.join(difflib.unified_diff((committed/differ[0]).read_text().splitlines(True), (fresh/differ[0]).read_text().splitlines(True),
                                         'committed', 'regenerated', n=0)) if differ else ''
    assert not differ, f'regenerated quickstart tables differ from the committed ones: {differ}\n{shown}'

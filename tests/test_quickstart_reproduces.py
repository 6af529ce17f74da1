"""A fresh `make run` reproduces the committed `paper/quickstart/` tables byte for byte: the quickstart study trained from
scratch (10 runs of 12 epochs, two workers) and its paper regenerated give the same `.tex` and `.csv` files. Timings
live in `bench/` and the README names the commit that trained the runs, so those two are not compared. A few minutes:
marked slow (`make test-slow`, which CI runs)."""
import filecmp
from pathlib import Path
import pytest
from conftest import vlab

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_fresh_quickstart_reproduces_committed_tables(tmp_path):
    vlab('run', ROOT/'params'/'quickstart.yaml', '--workers', '2', '--runs', tmp_path/'runs', cwd=tmp_path, check=True, timeout=1500)
    vlab('paper', tmp_path/'runs'/'quickstart', '--out', tmp_path/'quickstart', cwd=tmp_path, check=True, timeout=900)
    committed = ROOT/'paper'/'quickstart'/'tables'
    names = sorted(p.name for p in committed.glob('*') if p.suffix in ('.tex', '.csv'))
    assert len(names) >= 10 and 'summary.tex' in names, names
    assert sorted(p.name for p in (tmp_path/'quickstart'/'tables').glob('*') if p.suffix in ('.tex', '.csv')) == names
    differ = [n for n in names if not filecmp.cmp(committed/n, tmp_path/'quickstart'/'tables'/n, shallow=False)]
    assert not differ, f'regenerated quickstart tables differ from the committed ones: {differ}'

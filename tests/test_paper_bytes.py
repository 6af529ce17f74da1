"""`vlab paper` run twice on the same runs writes the same bytes: every table, CSV, README, figure (PNG and PDF) and paper.tex
(paper.pdf too where LaTeX is installed), so a regenerated paper/ folder diffs only where the results changed."""
from conftest import vlab


def test_vlab_paper_twice_gives_the_same_bytes(digits_study, tmp_path):
    study_dir, _ = digits_study
    for out in ('a', 'b'): vlab('paper', study_dir, '--out', tmp_path/out, check=True)
    files = lambda d: sorted(p.relative_to(d) for p in d.rglob('*') if p.is_file())
    a, b = files(tmp_path/'a'), files(tmp_path/'b')
    assert a == b and len(a) >= 10, (a, b)
    differ = [str(p) for p in a if (tmp_path/'a'/p).read_bytes() != (tmp_path/'b'/p).read_bytes()]
    assert not differ, differ

"""Every table a paper writes compiles on its own with `pdflatex -halt-on-error` (Debian's texlive): those of a freshly
made paper and every table committed under `paper/`; skipped with the reason where LaTeX is not installed (`.ci/run`
installs it)."""
import shutil, subprocess
from pathlib import Path
import pytest
from conftest import vlab

pytestmark = pytest.mark.latex
PAPER = Path(__file__).resolve().parent.parent/'paper'
PREAMBLE = r'\documentclass{article}' '\n' r'\usepackage{booktabs}' '\n' r'\begin{document}' '\n'   # LaTeX's default OT1 text encoding


def compile_alone(table:Path, work:Path) -> subprocess.CompletedProcess:
    "pdflatex on a minimal article that inputs `table` (in folder `work`), halting on the first error."
    doc = work/f'{table.parent.parent.name}_{table.stem}.tex'
    doc.write_text(PREAMBLE + r'\input{' + str(table) + '}\n' + r'\end{document}' + '\n')
    return subprocess.run(['pdflatex', '-halt-on-error', '-interaction=nonstopmode', doc.name], cwd=work, capture_output=True, text=True, timeout=120)


def test_every_table_compiles(digits_study, tmp_path):
    if not shutil.which('pdflatex'):
        pytest.skip('LaTeX: pdflatex not installed (apt-get install texlive-latex-recommended texlive-fonts-recommended latexmk)')
    study_dir, _ = digits_study
    vlab('paper', study_dir, '--out', tmp_path/'paper', check=True)
    tables = sorted((tmp_path/'paper').rglob('*.tex')) + sorted(PAPER.rglob('*.tex'))
    assert len(tables) >= 40, tables
    work = tmp_path/'latex'; work.mkdir()
    for t in tables:
        r = compile_alone(t, work)
        assert r.returncode == 0, f'{t} does not compile:\n' + r.stdout[-2000:]

"""Every table a paper writes compiles on its own with `pdflatex -halt-on-error` (Debian's texlive): those of a freshly
made paper and every table committed under `paper/`; skipped with the reason where LaTeX is not installed (`.ci/run`
installs it)."""
import shutil, subprocess
from pathlib import Path
import pytest
from conftest import vlab

pytestmark = pytest.mark.latex
PAPER = Path(__file__).resolve().parent.parent/'paper'
PREAMBLE = (r'\documentclass{article}' '\n' r'\usepackage{booktabs}' '\n' r'\usepackage{graphicx}' '\n'   # graphicx: \resizebox of tables too wide for the page
            r'\begin{document}' '\n')   # LaTeX's default OT1 text encoding


def compile_alone(table:Path, work:Path) -> subprocess.CompletedProcess:
    "pdflatex on a minimal article that inputs `table` (in folder `work`), halting on the first error."
    doc = work/f'{table.parent.parent.name}_{table.stem}.tex'
    doc.write_text(PREAMBLE + r'\input{' + str(table) + '}\n' + r'\end{document}' + '\n')
    return pdflatex(doc.name, work)


def pdflatex(name:str, cwd:Path, *opts) -> subprocess.CompletedProcess:
    "pdflatex on file `name` in folder `cwd`, halting on the first error."
    return subprocess.run(['pdflatex', '-halt-on-error', '-interaction=nonstopmode', *opts, name], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_every_table_compiles(digits_study, tmp_path):
    if not shutil.which('pdflatex'):
        pytest.skip('LaTeX: pdflatex not installed (apt-get install texlive-latex-recommended texlive-fonts-recommended latexmk)')
    study_dir, _ = digits_study
    vlab('paper', study_dir, '--out', tmp_path/'paper', check=True)
    tables = sorted((tmp_path/'paper').rglob('tables/*.tex')) + sorted(p for p in PAPER.rglob('*.tex') if p.name != 'paper.tex')
    assert len(tables) >= 40, tables
    work = tmp_path/'latex'; work.mkdir()
    for t in tables:
        r = compile_alone(t, work)
        assert r.returncode == 0, f'{t} does not compile:\n' + r.stdout[-2000:]


def test_every_committed_paper_compiles(tmp_path):
    "Each study folder's `paper.tex` (every table and figure of the study) compiles with pdflatex -halt-on-error."
    if not shutil.which('pdflatex'):
        pytest.skip('LaTeX: pdflatex not installed (apt-get install texlive-latex-recommended texlive-fonts-recommended latexmk)')
    papers = sorted(PAPER.rglob('paper.tex'))
    assert len(papers) >= 10, papers
    for p in papers:
        out = tmp_path/p.parent.name; out.mkdir()
        r = pdflatex(p.name, p.parent, f'-output-directory={out}')
        assert r.returncode == 0, f'{p} does not compile:\n' + r.stdout[-2000:]
        lines = p.read_text().splitlines()
        inputs = [p.parent/l[len(r'\input{'):-1] for l in lines if l.startswith(r'\input{')]
        labels = [l for l in lines if l.startswith(r'\label')] + [l.strip() for t in inputs for l in t.read_text().splitlines() if l.strip().startswith(r'\label')]
        assert len(labels) == len(set(labels)), f'{p}: a label twice: {sorted(l for l in set(labels) if labels.count(l) > 1)}'

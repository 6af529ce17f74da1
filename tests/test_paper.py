"""`vlab paper` turns a study's run folders into a booktabs table and a 300-DPI confusion matrix."""
import pandas as pd
from PIL import Image
from visionlab.ensemble import ENSEMBLES
from visionlab.report import pdf_font_types
from conftest import vlab


def test_paper_assets_from_a_real_grid(digits_study, tmp_path):
    study_dir, _ = digits_study
    vlab('paper', study_dir, '--out', tmp_path/'paper', check=True)
    tex = (tmp_path/'paper/tables/summary.tex').read_text()
    assert r'\toprule' in tex and r'\bottomrule' in tex and r'\textbf' in tex and r'\pm' in tex
    for row in ['cnn', 'resnet'] + list(ENSEMBLES): assert row in tex.replace(r'\_', '_'), row   # every model and combiner
    rt = pd.read_csv(tmp_path/'paper/tables/routing.csv', index_col=[0, 1])              # two models: routing has a second stage
    assert set(rt.index.get_level_values('gate')) == {'margin', 'entropy'} and (rt.oof_routed >= 0).all()
    assert ((rt.delta_oof - 100 * (rt.oof_acc_routed - rt.oof_acc)).abs() < 1e-9).all()
    assert 'routing.tex' in (tmp_path/'paper/README.md').read_text()
    for t in (tmp_path/'paper/tables').glob('*.tex'):   # every label went through latex_escape once: no escaped math, no bare < or _
        body = t.read_text()
        assert r'\textbackslash{}' not in body and ' < ' not in body and not any('_' in h.replace(r'\_', '') for h in body.splitlines()[6:7]), t.name
    png = tmp_path/'paper/figures/confusion_matrix.png'
    assert (tmp_path/'paper/figures/confusion_matrix.pdf').exists()
    dpi = Image.open(png).info['dpi']
    assert round(dpi[0]) == 300 and round(dpi[1]) == 300
    pdfs = sorted((tmp_path/'paper/figures').glob('*.pdf'))
    assert len(pdfs) >= 3 and all(p.read_bytes()[:4] == b'%PDF' for p in pdfs), pdfs
    for p in pdfs: assert 'Type3' not in pdf_font_types(p) and b'/FontFile2' in p.read_bytes(), (p.name, pdf_font_types(p))   # embedded TrueType only
    assert (study_dir/'paper_summary.ipynb').exists()   # the executed aggregation notebook is kept with the runs
